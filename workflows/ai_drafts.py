"""What the workflows that hold an AI draft for a person's approval share: the LeadWorkflow (draft replies) and the
SequenceWorkflow (`ai_message` steps) record how a draft ended through one activity call."""

import uuid
from typing import Protocol

from temporalio import workflow

from core.queues import DB_WRITE
from workflows.ai_types import AI_ACTOR, SETTLE_AI_DRAFT, AiDraftSettled, AiDraftSettlement, PendingDraft


class OfALead(Protocol):
    """A workflow's input or view: whose draft it is."""

    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def lead_id(self) -> uuid.UUID: ...


async def settle_ai_draft(
    of: OfALead,
    draft: PendingDraft,
    status: str,
    *,
    actor: str = AI_ACTOR,
    reason: str | None = None,
    final_text: str | None = None,
    message_id: str | None = None,
) -> None:
    """Record how the draft ended (approved, rejected, failed, expired or withdrawn) and by whom."""
    await workflow.execute_activity(
        SETTLE_AI_DRAFT,
        AiDraftSettlement(
            tenant_id=of.tenant_id,
            lead_id=of.lead_id,
            draft_id=draft.draft_id,
            status=status,
            final_text=final_text,
            actor=actor,
            message_id=message_id,
            reason=reason,
        ),
        result_type=AiDraftSettled,
        **DB_WRITE,
    )

"""AI drafts: list them; approve (optionally edited) or reject one through the workflow that waits on it: the lead's
(a reply) or an enrollment's (an `ai_message` sequence step)."""

import asyncio
import uuid
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.ai import DraftList, DraftPublic, HandlerPublic
from api.services import found
from api.transaction import after_commit, end_reads
from core.errors import Conflict
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from domain.ai_agent import ConversationHandler
from models import Tenant
from repositories.ai_drafts import AiDraftRepository
from repositories.conversations import ConversationRepository
from repositories.leads import LeadRepository
from workflow_clients.lead import LeadWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient
from workflows.ai_types import DraftDecision, HandlerRequest
from workflows.failures import WorkflowFailure

# A draft of an `ai_message` sequence step waits in its enrollment's workflow, whose id starts so.
ENROLLMENT_PREFIX = "enrollment:"
SETTLE_RETRIES = 25
SETTLE_PAUSE_SECONDS = 0.2


async def list_drafts(
    *, session: AsyncSession, tenant_id: uuid.UUID, status: str | None, lead_id: uuid.UUID | None, limit: int
) -> DraftList:
    rows = await AiDraftRepository(session).list(tenant_id=tenant_id, status=status, lead_id=lead_id, limit=limit)
    return DraftList(items=[DraftPublic.model_validate(row, from_attributes=True) for row in rows])


async def decide_draft(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    enrollments: SequenceWorkflowClient,
    tenant: Tenant,
    draft_id: uuid.UUID,
    approve: bool,
    text: str | None,
    reason: str | None,
    actor: str,
) -> DraftPublic:
    """Approve (maybe with edited text) or reject a pending draft through its lead's workflow; the draft after it."""
    drafts = AiDraftRepository(session)
    tenant_id = tenant.id
    draft = found(await drafts.get(tenant_id=tenant_id, draft_id=draft_id), "draft", draft_id)
    if draft.status != "pending":
        raise Conflict(
            f"the draft is {draft.status}, no longer waiting for a decision",
            details={"draft_id": str(draft_id), "status": draft.status},
        )
    decision = DraftDecision(draft_id=draft_id, approve=approve, text=text, reason=reason, actor=actor)
    lead_id, workflow_id = draft.lead_id, draft.workflow_id
    await end_reads(session)
    # The row is written by the workflow's activity just before the workflow itself holds the draft: an update in
    # between is refused as not pending while the row says pending. Ask again for a moment, then let it stand.
    for attempt in range(SETTLE_RETRIES + 1):
        try:
            if workflow_id.startswith(ENROLLMENT_PREFIX):
                await enrollments.decide_ai_draft(workflow_id=workflow_id, decision=decision)
            else:
                await workflows.decide_ai_draft(tenant_slug=tenant.slug, lead_id=lead_id, decision=decision)
            break
        except Conflict as refused:
            details = refused.details if isinstance(refused.details, dict) else {}
            if details.get("reason") != WorkflowFailure.AI_DRAFT_NOT_PENDING or attempt == SETTLE_RETRIES:
                raise
            session.expire(draft)
            current = await drafts.get(tenant_id=tenant_id, draft_id=draft_id)
            await end_reads(session)
            if current is None or current.status != "pending":
                raise
            await asyncio.sleep(SETTLE_PAUSE_SECONDS)
    session.expire(draft)  # the workflow's activity settled it meanwhile
    decided = await drafts.get(tenant_id=tenant_id, draft_id=draft_id)
    assert decided is not None
    return DraftPublic.model_validate(decided, from_attributes=True)


async def set_handler(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    live: LiveEvents,
    tenant: Tenant,
    lead_id: uuid.UUID,
    handler: ConversationHandler,
    actor: str,
) -> HandlerPublic:
    """Hand a lead's conversation to the AI agent or take it over (which withdraws a waiting draft)."""
    found(await LeadRepository(session).get(tenant_id=tenant.id, lead_id=lead_id), "lead", lead_id)
    await end_reads(session)
    view = await workflows.set_conversation_handler(
        tenant_slug=tenant.slug, lead_id=lead_id, request=HandlerRequest(handler=handler, actor=actor)
    )
    # The workflow decided; the inbox lists and filters by the mirrored column.
    await ConversationRepository(session).set_handler(
        tenant_id=tenant.id, lead_id=lead_id, handler=view.conversation_handler
    )
    event = LiveEvent(tenant.id, LiveEventType.CONVERSATION_CHANGED, {"lead_id": str(lead_id)})
    after_commit(session, partial(live.publish, event), failure=None)  # every open inbox shows who answers now
    return HandlerPublic(lead_id=lead_id, handler=view.conversation_handler)

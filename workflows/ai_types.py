"""What crosses the workflow boundary for the AI agent: activity names, their inputs and results, the draft and
handler updates of the LeadWorkflow. Pure pydantic, safe in the workflow sandbox."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from domain.ai_agent import AgentMode, ConversationHandler
from domain.whatsapp_messages import SendWhatsAppInput
from workflows.shared import FrozenModel

PLAN_AI_TURN = "ai.plan_turn"
RUN_AI_TURN = "ai.run_turn"
SAVE_AI_DRAFT = "ai.save_draft"
SETTLE_AI_DRAFT = "ai.settle_draft"
COMPOSE_AI_MESSAGE = "ai.compose_message"
NOTE_AI_MESSAGE_FALLBACK = "ai.note_message_fallback"

# workflow.patched id of the AI agent in LeadWorkflow: histories recorded before it replay without AI turns.
AI_AGENT_PATCH = "ai-agent"
# workflow.patched id of the turn activity doing more of the turn: the last second of a debounce (instead of a timer)
# and the send of an auto reply through the outbox, under the step the workflow names (instead of a send activity of
# the workflow's). Histories recorded before it replay with their timer and send activity. One id for both: each
# patch a workflow meets costs it a marker and a search attribute upsert in its history.
AI_TURN_DOES_MORE_PATCH = "ai-turn-does-more"
# The last stretch of a debounce that the turn activity waits itself: the turn is scheduled this long before the
# debounce ends, so the timer's workflow task and the activity's dispatch happen inside the debounce instead of after
# it; what comes before is a timer, of at least this long, since Temporal fires a timer shorter than a second only
# after a second (measured: 0.5 s fired 493 ms late, 0.9 s 93 ms, 1.0 s and longer within 3 ms). A rest under twice
# this needs no timer at all. An activity slot is held for at most twice this.
DEBOUNCE_END_IN_TURN_SECONDS = 1.0


# Who the timeline and the outbox name for the agent's own replies.
AI_ACTOR = "ai_agent"


def ai_reply_actor(settings_version: int) -> str:
    """Who the outbox and the timeline name for a reply the agent sent on its own: the agent and its settings."""
    return f"{AI_ACTOR}:v{settings_version}"


def ai_reply_send(
    *,
    tenant_id: uuid.UUID,
    lead_id: uuid.UUID,
    workflow_id: str,
    step: str,
    text: str,
    requested_by: str,
    conversation_read_at: datetime | None = None,
) -> SendWhatsAppInput:
    """The outbox send of an AI reply under its step: one builder, so the turn activity and the workflow's own send
    (its fallback, or an approved draft) write the same payload under the same key. `conversation_read_at`: an auto
    reply, dropped if the conversation moved on since (None for an approved draft: a person decided)."""
    return SendWhatsAppInput(
        tenant_id=str(tenant_id),
        lead_id=str(lead_id),
        workflow_id=workflow_id,
        step=step,
        text=text,
        requested_by=requested_by,
        conversation_read_at=conversation_read_at,
    )


class AiTurnPlanRequest(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID


class AiTurnPlan(FrozenModel):
    """What the workflow needs before a turn: does the agent answer, after how long, how long drafts wait."""

    mode: AgentMode
    settings_version: int = 0
    debounce_seconds: float = 0.0
    opens_at: datetime | None = Field(default=None, description="outside the answering hours: their next opening")
    draft_timeout_minutes: float = 60
    planned_at: datetime | None = Field(default=None, description="the worker's clock when the plan was made")


class AiTurnInput(FrozenModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    workflow_id: str
    turn_key: str = Field(description="unique per turn: usage, tasks and drafts of a re-run are not doubled")
    active_enrollments: tuple[str, ...] = ()
    # Set when the turn waits out the end of its debounce itself: it starts then, and answers nothing if a message
    # newer than `answers_message_id` (the stored message the turn was started for) came meanwhile.
    not_before: datetime | None = None
    answers_message_id: uuid.UUID | None = None
    # Set when the turn sends an auto reply itself, through the outbox under this step (`ai:<run>:<turn>`, as the
    # workflow's own send would): unless the lead wrote again or a person took the conversation over meanwhile.
    send_step: str | None = None


class AiDecisionKind(StrEnum):
    REPLY = "reply"
    HANDOFF = "handoff"
    NO_REPLY = "no_reply"


class AiTurnResult(FrozenModel):
    kind: AiDecisionKind
    text: str = ""
    needs_approval: str | None = Field(
        default=None, description="why a person must approve the reply: 'draft_mode' or 'guardrail: ...'"
    )
    reason: str = ""
    settings_version: int = 0
    tools_run: tuple[str, ...] = ()
    # The stored message of a reply the turn sent itself (`send_step`); None: not sent, the workflow decides.
    sent_message_id: str | None = None
    # An auto reply's `conversation_read_at` (domain/whatsapp_messages.py): the workflow's own send checks the same.
    conversation_read_at: datetime | None = None


class AiMessageRequest(FrozenModel):
    """An `ai_message` sequence step: write one message for the lead from the owner's (rendered) instructions."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    key: str = Field(description="the step execution's key: usage of a re-run is not doubled")
    instructions: str


class AiMessageComposed(FrozenModel):
    """The message the model wrote, or why the step's fallback text goes out instead."""

    text: str = ""
    fallback_reason: str | None = Field(default=None, description="set: send the fallback text, and why")
    needs_approval: str | None = Field(default=None, description="'draft_mode' or 'guardrail: ...'")
    settings_version: int = 0
    draft_timeout_minutes: float = 60


class AiMessageFallback(FrozenModel):
    """Note on the lead's timeline that an `ai_message` step sent its fallback text, and why."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    enrollment_id: uuid.UUID
    step_id: str
    key: str
    reason: str


class AiDraftInput(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    workflow_id: str
    turn_key: str
    text: str
    reason: str
    settings_version: int


class AiDraftRef(FrozenModel):
    draft_id: uuid.UUID


class PendingDraft(FrozenModel):
    """The reply waiting for a person's approval (at most one per lead: a newer message withdraws it)."""

    draft_id: uuid.UUID
    turn: int
    text: str
    step: str = Field(description="the outbox step its send will use")


class DraftDecision(FrozenModel):
    """Update `decide_ai_draft`: approve (optionally with edited text) or reject the pending draft."""

    draft_id: uuid.UUID
    approve: bool
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(min_length=1, max_length=80)


class DraftOutcome(FrozenModel):
    draft_id: uuid.UUID
    status: str  # approved | rejected
    message_id: str | None = None


class AiDraftSettlement(FrozenModel):
    """Mirror a draft's outcome; `expired` also creates a task for the lead's owner."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    draft_id: uuid.UUID
    status: str  # approved | rejected | withdrawn | expired | failed
    final_text: str | None = None
    actor: str
    message_id: str | None = None
    reason: str | None = None


class AiDraftSettled(FrozenModel):
    task_id: uuid.UUID | None = None


class HandlerRequest(FrozenModel):
    """Update `set_conversation_handler`: hand the conversation to the AI, or take it over."""

    handler: ConversationHandler
    actor: str = Field(min_length=1, max_length=80)

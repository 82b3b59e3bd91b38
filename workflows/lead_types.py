"""The typed surface of the LeadWorkflow: its input, its update/signal requests, its view, and its activities' I/O.

Shared by the workflow, its activities (worker) and its client (workflow_clients/lead.py), so every side agrees on
one shape. Pure pydantic: safe to import in the workflow sandbox. Activity names are constants here because
workflows may not import the activities package (import contract): the workflow calls them by name, the worker
registers them under that name.
"""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from domain.ai_agent import ConversationHandler
from domain.stages import Stage
from domain.whatsapp_messages import (
    InboundWhatsAppMessage,
    InboundWhatsAppMessages,
    WhatsAppProviderOptOut,
    WhatsAppProviderUndeliverable,
)
from workflows.ai_types import PendingDraft
from workflows.failures import WorkflowFailure
from workflows.shared import FrozenModel

MIRROR_STATUS_CHANGE = "lead.mirror_status_change"
RECORD_SPEED_TO_LEAD_ALERT = "lead.record_speed_to_lead_alert"

# What a channel signals the lead's workflow after it stored an inbound event: a tagged union whose tag is each
# member's `signal`, the name of the LeadWorkflow handler that takes it (the names running workflows and recorded
# histories know). A new channel adds its signal's payload here and its handler to the workflow.
LeadInboundSignal = (
    InboundWhatsAppMessage | InboundWhatsAppMessages | WhatsAppProviderOptOut | WhatsAppProviderUndeliverable
)

# ApplicationError types the workflow raises (workflows/failures.py).
INVALID_TRANSITION = WorkflowFailure.INVALID_TRANSITION
LEAD_GONE = WorkflowFailure.LEAD_GONE

RECORD_CALL_SIGNAL = "record_call"
RECORD_CALL_OUTCOME_SIGNAL = "record_call_outcome"
RECENT_CALLS_KEPT = 20

# Timeline event kinds the workflow writes.
STATUS_CHANGED_EVENT = "status_changed"
SPEED_TO_LEAD_ALERT_EVENT = "speed_to_lead_alert"


class LeadView(FrozenModel):
    """The workflow's view of its lead: what the `view` query answers, updates return, and continue-as-new carries."""

    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    display_name: str
    owner_id: uuid.UUID | None
    status_key: str
    stage: Stage
    status_changes: int = Field(default=0, ge=0, description="accepted status changes over the workflow's life")
    status_changed_at: datetime | None = None
    speed_to_lead_due_at: datetime | None = Field(default=None, description="None: no speed-to-lead watch")
    speed_to_lead_alerted_at: datetime | None = None
    lead_gone: bool = Field(default=False, description="the lead row was deleted; the workflow is ending")
    # WhatsApp (record_inbound_message): the lead's last message to us, and the ids of the latest few (a repeated
    # signal is recognised and ignored).
    last_inbound_at: datetime | None = None
    inbound_messages: int = Field(default=0, ge=0)
    recent_inbound_ids: tuple[str, ...] = ()
    # Sequences (enrollment_started / enrollment_ended): the workflow ids of the lead's running enrollments, told
    # about its replies, status changes and opt-out.
    active_enrollments: tuple[str, ...] = ()
    # AI agent: who answers the lead, the number of the latest turn (each inbound message starts one; a newer turn
    # supersedes an older one), the reply waiting for approval, and the AI replies sent.
    conversation_handler: ConversationHandler = ConversationHandler.UNASSIGNED
    ai_turns: int = Field(default=0, ge=0)
    pending_draft: PendingDraft | None = None
    ai_replies: int = Field(default=0, ge=0)
    # Calls (record_call): the workflow ids of the lead's latest calls, newest last.
    recent_calls: tuple[str, ...] = ()
    # Call outcomes (record_call_outcome) already applied, as `<call id>:<disposition>`: a repeat changes nothing.
    recent_call_outcomes: tuple[str, ...] = ()


class LeadCallOutcome(FrozenModel):
    """A call's disposition, for the lead's workflow (signal `record_call_outcome`): what it means for the lead
    (domain/calls.py `lead_effect`) with the tenant's status key for the stage it moves the lead to."""

    call_id: uuid.UUID
    disposition: str
    actor: str = Field(min_length=1, max_length=80)
    at: datetime
    conversation: bool = False
    stop: Literal["opted_out", "undeliverable"] | None = None
    status_key: str | None = None
    stage: Stage | None = None
    from_stages: tuple[Stage, ...] = ()
    # The enrollment whose `call` step placed the call follows the outcome itself; it is not told again.
    enrollment_workflow_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.call_id}:{self.disposition}"


class LeadWorkflowInput(FrozenModel):
    """What a LeadWorkflow starts with: the lead as the API committed it and the tenant's settings.

    `carried_over` is set only by continue-as-new: the previous run's view, which then wins over the other fields.
    """

    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    display_name: str
    owner_id: uuid.UUID | None = None
    status_key: str
    stage: Stage
    lead_created_at: datetime
    speed_to_lead_minutes: int = Field(ge=0, description="0 turns the speed-to-lead alert off")
    max_history_events: int = Field(ge=10, description="continue-as-new once the history is this long")
    # The lead's open enrollments when the API starts a run for an existing lead (an earlier run may have ended).
    active_enrollments: tuple[str, ...] = ()
    carried_over: LeadView | None = None


class StatusChangeRequest(FrozenModel):
    """Move the lead to one of its tenant's statuses; the API resolved the key to its stage."""

    status_key: str = Field(min_length=1, max_length=63)
    stage: Stage
    actor: str = Field(min_length=1, max_length=80, description="who asked: 'user:<id>', 'api_key:<id>', 'system'")
    reason: str | None = Field(default=None, max_length=500)


class LeadDetailsChange(FrozenModel):
    """The lead's name or owner changed in the CRM: the workflow refreshes its memo and AssignedAgent."""

    display_name: str
    owner_id: uuid.UUID | None


# Activity inputs and results ----------------------------------------------------------------------------------------


class StatusChangeMirror(FrozenModel):
    """Write an accepted status change to the lead row and its timeline, once per `idempotency_key`."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    from_status_key: str
    from_stage: Stage
    to_status_key: str
    to_stage: Stage
    actor: str
    reason: str | None
    occurred_at: datetime
    idempotency_key: str


class SpeedToLeadAlert(FrozenModel):
    """Record on the lead's timeline that it was not contacted within the tenant's speed-to-lead minutes."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    minutes: int
    status_key: str
    due_at: datetime
    idempotency_key: str


class SpeedToLeadAlertResult(FrozenModel):
    recorded: bool = Field(description="False when an earlier attempt already recorded it")
    owner_id: uuid.UUID | None = Field(description="the owner the alert is for, as the lead row names it now")

"""What crosses the workflow boundary for WhatsApp: the lead workflow's inbound signals and the send activity's I/O.

Pydantic models (the pydantic data converter carries them); no ORM objects, no I/O. Used by the webhook inbox
dispatcher (signals), `LeadWorkflow` and the `send_whatsapp_message` activity. Each signal's `signal` names the
`LeadWorkflow` handler it is for (class-level, so not part of the payload running workflows decode).
"""

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from domain.stages import Stage
from workflows.failures import WorkflowFailure


class InboundWhatsAppMessage(BaseModel):
    """Signal `record_inbound_message`: the lead wrote to us (already stored in its conversation)."""

    signal: ClassVar[str] = "record_inbound_message"

    provider: str
    provider_message_id: str
    message_id: str | None = None  # the stored message row
    body: str = ""
    received_at: datetime  # the provider's time (WhatsApp's is in whole seconds)
    # When Leadflow acknowledged the webhook (its inbox row's time): an AI reply's debounce counts from it, so the
    # time the message spent reaching the workflow is not added to the lead's wait. None: sent before this field.
    accepted_at: datetime | None = None
    opt_out: bool = False  # the body is an opt-out keyword (STOP, BAJA, ARRÊT, הסר...)
    lead_created: bool = False  # this message created the lead
    opt_out_status_key: str | None = None  # the tenant's status of stage opted_out, to move the lead to on opt-out


class InboundWhatsAppMessages(BaseModel):
    """Signal `record_inbound_messages`: several messages of the lead, stored together (a burst the dispatcher handled
    as one run), in the order the lead sent them. The workflow takes them as that many `record_inbound_message`s."""

    signal: ClassVar[str] = "record_inbound_messages"

    messages: list[InboundWhatsAppMessage] = Field(min_length=1)
    opt_out_status_key: str | None = None  # as on one message: the status an opt-out keyword moves the lead to


class WhatsAppProviderOptOut(BaseModel):
    """Signal `record_provider_opt_out`: a status webhook says the person stopped messages from us (131050)."""

    signal: ClassVar[str] = "record_provider_opt_out"

    provider_message_id: str
    reason: str = ""
    occurred_at: datetime
    opt_out_status_key: str | None = None


class WhatsAppProviderUndeliverable(BaseModel):
    """Signal `record_provider_undeliverable`: a status webhook says a message to the lead could not be delivered
    (e.g. 131026, the number cannot receive WhatsApp messages), after the provider had accepted it."""

    signal: ClassVar[str] = "record_provider_undeliverable"

    provider_message_id: str
    reason: str = ""
    occurred_at: datetime


class SendWhatsAppInput(BaseModel):
    """One send, identified by the step that wants it. Re-running it never sends twice."""

    tenant_id: str
    lead_id: str
    workflow_id: str
    step: str  # unique within the workflow run's history: "sequence:<enrollment>:<step>", "manual:<request id>"
    text: str | None = None
    template: str | None = None  # approved template to send instead of text
    template_language: str | None = None
    template_parameters: list[str] = Field(default_factory=list)
    fallback_template: str | None = None  # used when free text is not allowed (outside the 24-hour window)
    requested_by: str = "system"
    # A sequence's send: refused (LeadReplied) when the lead's latest inbound message, as the reply path stored it
    # (`conversation.last_inbound_at`), is later than this. The enrollment's own workflow may not have heard of the
    # reply yet (its task queued behind a burst); the stored reply is what stops the send. None: no such check.
    stop_on_inbound_after: datetime | None = None
    # An AI agent's reply, written for the conversation as stored up to this time (Leadflow's clock, the newest inbound
    # message the turn read): refused (ConversationMovedOn) when a message of the lead was stored after it or a person
    # took the conversation over, checked in the transaction that claims the send, after pacing. The newer message's
    # own turn answers instead. None: no such check (an agent's message, an approved draft).
    conversation_read_at: datetime | None = None
    # A sequence's send: refused (LeadAtExitStage) when the lead's stage, as stored, is one of these: the lead's status
    # change ends the enrollment, whose workflow may not have heard of it yet. Empty: no such check.
    exit_on_stages: list[Stage] = Field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        return send_idempotency_key(self.workflow_id, self.step)


def send_idempotency_key(workflow_id: str, step: str) -> str:
    """The outbox key of one send: a re-run of the same step of the same workflow finds the first send."""
    return f"{workflow_id}:{step}"


def manual_send_step(request_id: str) -> str:
    """The step of an agent's message: the request id is what makes a retried request find the first send."""
    return f"manual:{request_id}"


class ManualWhatsAppMessage(BaseModel):
    """Update `send_whatsapp_message`: an agent's message. The same `request_id` never sends twice."""

    request_id: str = Field(min_length=1, max_length=100)
    text: str | None = None
    template: str | None = None
    template_language: str | None = None
    template_parameters: list[str] = Field(default_factory=list)
    actor: str = "system"


class SendWhatsAppResult(BaseModel):
    provider_message_id: str
    message_id: str
    mode: str  # text | template
    template: str | None = None
    duplicate: bool = False  # the outbox already held this send: nothing went out this time


# The send activity's registered name (workflows call it by name: they may not import activities).
SEND_WHATSAPP_MESSAGE = "whatsapp.send_message"

# ApplicationError types the send activity raises (all non-retryable but throttling).
WINDOW_CLOSED = "WhatsAppWindowClosed"  # free text outside the 24-hour window and no fallback template
LEAD_OPTED_OUT = "LeadOptedOut"  # the lead opted out earlier: nothing is sent
RECIPIENT_OPTED_OUT = "WhatsAppRecipientOptedOut"  # the provider says the person stopped messages (131050)
UNDELIVERABLE = "WhatsAppUndeliverable"  # the number cannot receive WhatsApp messages (131026)
NOT_CONFIGURED = "WhatsAppNotConfigured"  # the tenant has no usable WhatsApp account
SEND_REJECTED = "WhatsAppSendRejected"  # any other permanent refusal (auth, configuration, template)
THROTTLED = "WhatsAppThrottled"  # retryable: pacing or provider rate limit
SEND_IN_FLIGHT = "WhatsAppSendInFlight"  # retryable: an earlier attempt may have been accepted; awaiting its webhook
LEAD_GONE_SEND = WorkflowFailure.LEAD_GONE
LEAD_REPLIED = "LeadReplied"  # a sequence's send after the lead replied (see `stop_on_inbound_after`): nothing is sent
# A sequence's send after a person stopped or paused its enrollment (recorded by the API before the workflow hears of
# it): nothing is sent. A stop is final; a paused send goes out after the resume (the workflow asks again).
ENROLLMENT_STOPPED = "EnrollmentStopped"
ENROLLMENT_PAUSED = "EnrollmentPaused"
# A sequence's send to a lead already at one of its exit stages (see `exit_on_stages`): nothing is sent.
LEAD_AT_EXIT_STAGE = "LeadAtExitStage"
# An AI reply the conversation moved past (see `conversation_read_at`): nothing is sent, and it is no failure (no
# timeline entry): a newer turn answers.
CONVERSATION_MOVED_ON = "ConversationMovedOn"

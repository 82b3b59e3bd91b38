"""The typed surface of the CallWorkflow: input, signals, updates, view, and its activities' I/O.

Shared by the workflow, its activities (worker), the API and the dispatcher. Pure pydantic: safe in the workflow
sandbox. Activity names are constants because workflows may not import the activities package.
"""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.calls import CallDisposition
from domain.sequences.definition import BusinessHours
from workflows.failures import WorkflowFailure
from workflows.shared import FrozenModel

PREPARE_CALL = "call.prepare"
PLACE_CALL = "call.place"
HANG_UP_CALL = "call.hang_up"
MIRROR_CALL = "call.mirror"
VOICE_REPLY = "call.voice_reply"
CREATE_MISSED_CALL_TASK = "call.create_missed_call_task"
ACQUIRE_CALL_SLOT = "call.acquire_slot"  # raises NoSlotYet until granted: histories from before the slot wake-ups
REQUEST_CALL_SLOT = "call.request_slot"
RENEW_CALL_SLOT = "call.renew_slot"
RELEASE_CALL_SLOT = "call.release_slot"
TELL_LEAD_CALL_OUTCOME = "call.tell_lead"
SUMMARIZE_CALL = "call.summarize"

# Patches (workflow.patched ids): commands a running call's history does not have.
CALL_OUTCOME_TELLS_LEAD_PATCH = "call-outcome-tells-lead"
CALL_AI_SUMMARY_PATCH = "call-ai-summary"
CALL_SLOT_WAKES_PATCH = "call-slot-wakes"
CALL_LOCAL_STEPS_PATCH = "call-local-steps"

# ApplicationError types
NO_TELEPHONY_ACCOUNT = WorkflowFailure.NO_TELEPHONY_ACCOUNT
CALL_REJECTED = WorkflowFailure.CALL_REJECTED
PLACEMENT_IN_FLIGHT = WorkflowFailure.PLACEMENT_IN_FLIGHT
CALLS_DISABLED = WorkflowFailure.CALLS_DISABLED
CALL_NOT_LIVE = WorkflowFailure.CALL_NOT_LIVE
NO_SLOT_YET = WorkflowFailure.NO_SLOT_YET

# Signal and update names (the dispatcher and the API address them by name)
PROVIDER_EVENT_SIGNAL = "provider_event"
SLOT_MAY_BE_FREE_SIGNAL = "slot_may_be_free"
CALLER_SAID_UPDATE = "caller_said"
SET_DISPOSITION_UPDATE = "set_disposition"

# Timeline event kinds
CALL_ENDED_EVENT = "call_ended"
CALL_DISPOSITION_EVENT = "call_disposition"


class CallWorkflowInput(FrozenModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    call_id: uuid.UUID
    attempt: int = Field(ge=1)
    direction: Literal["outbound", "inbound"] = "outbound"
    origin: Literal["agent", "sequence", "ai_callback", "retry", "inbound"] = "agent"
    lead_timezone: str = "UTC"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    enrollment_workflow_id: str | None = None
    # Inbound calls are live before the workflow starts: Twilio's SID is known and no slot is taken.
    provider_sid: str | None = None
    # A retry waits for its moment (inside the lead's business hours) before it takes a slot.
    not_before: datetime | None = None


# Signals ------------------------------------------------------------------------------------------------------------


class CallStatusEvent(FrozenModel):
    kind: Literal["status"] = "status"
    call_sid: str
    status: str
    sequence_number: int = -1
    duration_seconds: int | None = None
    at: datetime | None = None


class AnsweredByEvent(FrozenModel):
    kind: Literal["amd"] = "amd"
    call_sid: str
    answered_by: str


class DialEvent(FrozenModel):
    """What a `<Dial>` to an agent (inbound routing, click-to-call bridge) ended with."""

    kind: Literal["dial"] = "dial"
    call_sid: str
    dial_status: str


class RecordingEvent(FrozenModel):
    kind: Literal["recording"] = "recording"
    call_sid: str
    recording_sid: str
    recording_url: str
    duration_seconds: int | None = None


ProviderEvent = Annotated[CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent, Field(discriminator="kind")]


class ProviderEventEnvelope(FrozenModel):
    event: ProviderEvent


# Updates ------------------------------------------------------------------------------------------------------------


class CallerUtterance(FrozenModel):
    call_sid: str
    text: str = Field(max_length=4000)
    confidence: float | None = None


class VoiceReply(FrozenModel):
    """What the voice agent does next: say something and listen again, hand the caller to an agent, or end."""

    say: str
    action: Literal["listen", "handoff", "hang_up"]
    handoff_number: str | None = None


class DispositionRequest(FrozenModel):
    disposition: CallDisposition
    note: str | None = Field(default=None, max_length=2000)
    callback_at: datetime | None = None
    actor: str = Field(min_length=1, max_length=80)


# View ---------------------------------------------------------------------------------------------------------------


class TranscriptTurn(FrozenModel):
    speaker: Literal["caller", "agent"]
    text: str
    at: datetime


class CallView(FrozenModel):
    call_id: uuid.UUID
    status: str
    provider_sid: str | None = None
    answered_by: str | None = None
    disposition: CallDisposition | None = None
    disposition_by: str | None = None
    disposition_note: str | None = None
    callback_at: datetime | None = None
    dial_status: str | None = Field(default=None, description="how the last <Dial> (bridge, handoff) ended")
    duration_seconds: int | None = None
    transcript: tuple[TranscriptTurn, ...] = ()
    recording_sid: str | None = None
    recording_url: str | None = None
    recording_duration_seconds: int | None = None
    next_attempt_workflow_id: str | None = None
    summary: str | None = Field(default=None, description="the AI agent's summary of the conversation")
    suggested_disposition: CallDisposition | None = Field(
        default=None, description="the AI agent's suggestion; an agent confirms it with set_disposition"
    )
    summary_by: str | None = None
    scheduled_for: datetime | None = Field(default=None, description="a retry: when it may be placed")
    ended_at: datetime | None = None


# Activity inputs and results ----------------------------------------------------------------------------------------


class CallRef(FrozenModel):
    tenant_id: uuid.UUID
    call_id: uuid.UUID


class CallPlan(FrozenModel):
    """The tenant's policy as it stood when the call was prepared."""

    voicemail_policy: Literal["drop_message", "hang_up"]
    human_answer_mode: Literal["agent", "ai", "message"]
    retry_max_attempts: int
    retry_spacing_minutes: int
    concurrent_call_limit: int
    calls_per_second: float


class PlacedCall(FrozenModel):
    provider_sid: str
    reconciled: bool = Field(description="the SID came from a callback or a lookup, not from Twilio's answer")


class CallMirror(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    view: CallView
    final: bool = False
    timeline_event: str | None = None
    timeline_key: str | None = None


class VoiceTurn(FrozenModel):
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    transcript: tuple[TranscriptTurn, ...]


class SlotRequest(FrozenModel):
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    concurrent_call_limit: int
    calls_per_second: float


class SlotDecision(FrozenModel):
    """`call.request_slot`'s answer: the slot is the call's, or ask again after `ask_again_ms` at the latest (sooner
    when signal `slot_may_be_free` comes)."""

    granted: bool
    ask_again_ms: int = 0


class MissedCallTask(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    call_id: uuid.UUID


class CallTranscript(FrozenModel):
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    transcript: tuple[TranscriptTurn, ...]


class CallSummary(FrozenModel):
    """The AI agent's summary of a call and its suggested disposition; empty when the AI did not write one."""

    summary: str | None = None
    suggested_disposition: CallDisposition | None = None
    by: str | None = Field(default=None, description="ai:v<settings version>")


class CallOutcome(FrozenModel):
    """A call's disposition for its lead (activity `call.tell_lead`, which signals the lead's workflow)."""

    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    call_id: uuid.UUID
    disposition: CallDisposition
    actor: str
    enrollment_workflow_id: str | None = None
    callback_at: datetime | None = Field(default=None, description="callback_requested: when the lead asked for it")


class CallLink(FrozenModel):
    """Tells a lead's workflow about one of its calls (signal `record_call`)."""

    workflow_id: str
    call_id: uuid.UUID
    direction: Literal["outbound", "inbound"]

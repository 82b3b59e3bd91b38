"""Call vocabulary shared by the API, the channel and the workflow: statuses in the order they move forward,
dispositions, and the scripted voice prompts AI turns use until the AI agent answers them. Pure: no I/O."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from core.validation_messages import readable_pattern
from domain.stages import Stage

DEFAULT_CONSENT_PROMPT = "This call may be recorded for quality and training purposes."


class CallStatus(StrEnum):
    """Twilio's call statuses, plus `dialing` (our request to Twilio is out, no answer yet)."""

    QUEUED = "queued"  # waiting for a call slot
    DIALING = "dialing"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.DIALING: 1,
    CallStatus.INITIATED: 2,
    CallStatus.RINGING: 3,
    CallStatus.IN_PROGRESS: 4,
}


def status_rank(status: str) -> int:
    """Callbacks arrive out of order and repeated: a status only ever replaces one of a lower rank."""
    try:
        return _RANK.get(CallStatus(status), 5)
    except ValueError:
        return -1


def moves_forward(current: str, new: str) -> bool:
    return status_rank(new) > status_rank(current)


class CallDisposition(StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    VOICEMAIL_LEFT = "voicemail_left"
    HUMAN_CONNECTED = "human_connected"
    CANCELED = "canceled"
    # Set by an agent
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    CALLBACK_REQUESTED = "callback_requested"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"


AUTOMATIC_DISPOSITIONS = frozenset(
    {
        CallDisposition.NO_ANSWER,
        CallDisposition.BUSY,
        CallDisposition.FAILED,
        CallDisposition.VOICEMAIL_LEFT,
        CallDisposition.HUMAN_CONNECTED,
        CallDisposition.CANCELED,
    }
)
# Outcomes worth another attempt under the tenant's retry policy.
RETRYABLE_DISPOSITIONS = frozenset({CallDisposition.NO_ANSWER, CallDisposition.BUSY, CallDisposition.FAILED})


@dataclass(frozen=True, slots=True)
class LeadEffect:
    """What a call's disposition means for the rest of the CRM.

    `conversation`: the lead spoke with us, which the lead's running enrollments hear as a reply (so a sequence ends
    or follows its `wait_for_reply` branch as it would on a WhatsApp reply). `stop`: the enrollments end (a person
    who asked not to be called is opted out; a number that is not the lead's is undeliverable). `stage`: where the
    lead moves, only when it is in one of `from_stages` (a call never moves a lead backwards).
    """

    conversation: bool = False
    stop: Literal["opted_out", "undeliverable"] | None = None
    stage: Stage | None = None
    from_stages: frozenset[Stage] = frozenset()

    @property
    def tells_the_lead(self) -> bool:
        return self.conversation or self.stop is not None or self.stage is not None


_OPEN_STAGES = frozenset({Stage.NEW, Stage.CONTACTED, Stage.ENGAGED, Stage.QUALIFIED, Stage.UNREACHABLE})
_LEAD_EFFECTS: dict[CallDisposition, LeadEffect] = {
    CallDisposition.HUMAN_CONNECTED: LeadEffect(
        conversation=True, stage=Stage.CONTACTED, from_stages=frozenset({Stage.NEW, Stage.UNREACHABLE})
    ),
    CallDisposition.CALLBACK_REQUESTED: LeadEffect(
        conversation=True, stage=Stage.CONTACTED, from_stages=frozenset({Stage.NEW, Stage.UNREACHABLE})
    ),
    CallDisposition.INTERESTED: LeadEffect(
        conversation=True,
        stage=Stage.ENGAGED,
        from_stages=frozenset({Stage.NEW, Stage.CONTACTED, Stage.UNREACHABLE}),
    ),
    CallDisposition.NOT_INTERESTED: LeadEffect(conversation=True, stage=Stage.LOST, from_stages=_OPEN_STAGES),
    CallDisposition.VOICEMAIL_LEFT: LeadEffect(stage=Stage.CONTACTED, from_stages=frozenset({Stage.NEW})),
    CallDisposition.WRONG_NUMBER: LeadEffect(
        stop="undeliverable",
        stage=Stage.UNREACHABLE,
        from_stages=frozenset({Stage.NEW, Stage.CONTACTED, Stage.ENGAGED}),
    ),
    CallDisposition.DO_NOT_CALL: LeadEffect(
        stop="opted_out", stage=Stage.OPTED_OUT, from_stages=frozenset(Stage) - {Stage.OPTED_OUT}
    ),
}


def sequence_branch(disposition: CallDisposition | str) -> Literal["connected", "voicemail", "no_answer"]:
    """Which branch of a sequence's `call` step a disposition takes."""
    disposition = CallDisposition(disposition)
    if disposition == CallDisposition.VOICEMAIL_LEFT:
        return "voicemail"
    if disposition in (
        CallDisposition.NO_ANSWER,
        CallDisposition.BUSY,
        CallDisposition.FAILED,
        CallDisposition.CANCELED,
    ):
        return "no_answer"
    return "connected"


def lead_effect(disposition: CallDisposition | str) -> LeadEffect:
    """Unanswered, busy, failed and canceled calls change nothing: the retry policy deals with them."""
    return _LEAD_EFFECTS.get(CallDisposition(disposition), LeadEffect())


MACHINE_ANSWERS = frozenset({"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"})


TTS_VOICE_PATTERN = readable_pattern(
    r"^(man|woman|alice|Polly\.[A-Z][A-Za-z]+(-Neural|-Generative)?|Google\.[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9-]+)$",
    "a Twilio voice: man, woman, alice, Polly.<Name> (optionally -Neural or -Generative) or Google.<language>-<Name>",
)
LANGUAGE_PATTERN = readable_pattern(r"^[a-z]{2,3}-[A-Z]{2}$", "a language and region such as en-US or es-MX")


class VoiceScript(BaseModel):
    """What the voice agent says, turn by turn, while no AI agent answers: the opening, one prompt per thing the
    caller says, then the closing. Saying a handoff keyword connects the tenant's agent number."""

    opening: str = Field(default="Hello, this is a call about your enquiry. How can we help you?", max_length=1000)
    prompts: list[str] = Field(default_factory=list, max_length=50)
    closing: str = Field(default="Thank you for your time. Goodbye.", max_length=1000)
    handoff_keywords: list[str] = Field(default_factory=lambda: ["agent", "human", "person"], max_length=20)
    # How it sounds: the text-to-speech voice and language of every <Say> of the tenant's calls (and the language
    # <Gather> recognises speech in). None: Twilio's default.
    voice: str | None = Field(
        default=None,
        pattern=TTS_VOICE_PATTERN,
        description="Twilio TTS voice: man, woman, alice, Polly.<Name>[-Neural|-Generative], Google.<lang>-<Name>",
    )
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, description="e.g. en-US, es-MX")

"""The Twilio half of the sandbox's memory: accounts, personas per phone number, calls and their callbacks, faults.

A persona is who answers a number: a person saying a list of utterances, a voicemail greeting, a busy line, a
phone nobody picks up, a person who hangs up mid-call, or a line that fails. Calls to a number with no persona
reach a person who answers and says nothing. Timings are per persona so tests run fast and benchmarks can make
calls last seconds.
"""

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Behaviour = Literal["human", "voicemail", "busy", "no_answer", "hangs_up", "fails"]

# What the async AMD callback says for each answering persona (DetectMessageEnd waits for the beep).
ANSWERED_BY: dict[str, str] = {"human": "human", "hangs_up": "human", "voicemail": "machine_end_beep"}

# Twilio's terminal call statuses, and the SIP code each ends with (as the fixtures show).
TERMINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
SIP_CODES = {"completed": "200", "busy": "486", "no-answer": "487", "failed": "500", "canceled": "487"}

CallFaultKind = Literal[
    "http_429",  # Calls.json create answers 429 (Twilio error 20429)
    "http_500",  # ... answers 500
    "timeout",  # ... hangs for delay_seconds, then 504
    "slow_accept",  # the call is created and placed at once; only the REST answer is late by delay_seconds
    "duplicate_callbacks",  # every status callback of the call is posted twice
    "out_of_order_callbacks",  # each progress callback is held back and posted after the next one
    "drop_callback",  # the callback of `event` (initiated|ringing|answered|completed|amd|recording) is never posted
    "bad_signature",  # callbacks of the call carry a wrong X-Twilio-Signature
]
CALLBACK_FAULTS = {"duplicate_callbacks", "out_of_order_callbacks", "drop_callback", "bad_signature"}


def now() -> datetime:
    return datetime.now(tz=UTC)


def rfc2822(at: datetime | None) -> str | None:
    return at.strftime("%a, %d %b %Y %H:%M:%S +0000") if at else None


def e164(number: str) -> str:
    return "+" + "".join(ch for ch in number if ch.isdigit())


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class TwilioAccount(BaseModel):
    account_sid: str
    auth_token: str


class Persona(BaseModel):
    number: str  # E.164: the number called (outbound) or calling (inbound)
    behaviour: Behaviour = "human"
    utterances: list[str] = Field(default_factory=list)  # said one per <Gather>, in order
    hang_up_after: int = Field(default=0, ge=0)  # hangs_up: utterances said before hanging up
    ring_seconds: float = Field(default=0.05, ge=0, le=120)
    amd_seconds: float = Field(default=0.1, ge=0, le=60)  # answer -> AMD result (voicemail: the greeting's length)
    talk_seconds: float = Field(default=0.02, ge=0, le=60)  # how long saying one utterance takes
    say_seconds: float = Field(default=0.0, ge=0, le=60)  # how long each <Say> takes to play
    silence_seconds: float = Field(default=0.5, ge=0, le=60)  # a <Gather> with nothing to say waits this long
    dial_seconds: float = Field(default=0.05, ge=0, le=600)  # a <Dial>ed party talks this long


class CallFault(BaseModel):
    kind: CallFaultKind
    count: int = Field(default=1, ge=1)
    to: str | None = None  # E.164; None matches every call
    event: str | None = None  # drop_callback: which callback
    delay_seconds: float = Field(default=30.0, ge=0, le=600)
    id: str = Field(default_factory=lambda: secrets.token_hex(6))

    def matches(self, to: str) -> bool:
        return self.to is None or e164(self.to) == e164(to)


class CallStep(BaseModel):
    """One thing that happened on the line, in order: what a test reads to know what the callee heard."""

    verb: Literal["say", "gather", "caller_said", "dial", "hangup", "pause", "redirect", "silence", "voicemail_beep"]
    text: str | None = None
    voice: str | None = None  # say / gather: the <Say>'s voice and language attributes, as Twilio would speak them
    language: str | None = None
    at: datetime = Field(default_factory=now)


class CallbackDelivery(BaseModel):
    call_sid: str
    event: str  # initiated | ringing | answered | completed | amd | answer_url | gather | redirect | dial_action
    url: str
    params: dict[str, str]
    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    dropped: bool = False
    signature: Literal["valid", "invalid"] = "valid"
    delivered_at: datetime = Field(default_factory=now)
    elapsed_ms: float | None = None  # request sent -> answer received


class SandboxCall(BaseModel):
    sid: str
    account_sid: str
    to: str
    from_: str
    direction: Literal["outbound-api", "inbound"] = "outbound-api"
    status: str = "queued"
    answered_by: str | None = None
    url: str | None = None
    twiml: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_events: list[str] = Field(default_factory=list)
    machine_detection: str | None = None
    async_amd: bool = False
    async_amd_status_callback: str | None = None
    record: bool = False
    recording_status_callback: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)  # the create request's form fields
    created_at: datetime = Field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    steps: list[CallStep] = Field(default_factory=list)
    next_sequence_number: int = 0
    faults: list[CallFault] = Field(default_factory=list)  # callback faults taken for this call when it was placed

    def has_fault(self, kind: str, event: str | None = None) -> bool:
        return any(f.kind == kind and (event is None or f.event in (None, event)) for f in self.faults)

    @property
    def duration(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return int((self.end_time - self.start_time).total_seconds())

    def resource(self, base_path: str) -> dict[str, Any]:
        """The Call resource as Twilio's REST API answers it (create_call_response.json)."""
        uri = f"{base_path}/Calls/{self.sid}.json"
        sub = ("notifications", "recordings", "payments", "events", "siprec", "streams", "transcriptions")
        return {
            "account_sid": self.account_sid,
            "answered_by": self.answered_by,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(now()),
            "direction": self.direction,
            "duration": str(self.duration) if self.duration is not None else None,
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {name: f"{base_path}/Calls/{self.sid}/{name.capitalize()}.json" for name in sub},
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": uri,
            "queue_time": "0",
        }


class TwilioState:
    def __init__(self, default_auth_token: str) -> None:
        self.default_auth_token = default_auth_token
        self.reset()

    def reset(self) -> None:
        self.accounts: dict[str, TwilioAccount] = {}
        self.personas: dict[str, Persona] = {}
        self.calls: dict[str, SandboxCall] = {}
        self.faults: list[CallFault] = []
        self.callbacks: list[CallbackDelivery] = []

    def auth_token(self, account_sid: str) -> str:
        account = self.accounts.get(account_sid)
        return account.auth_token if account else self.default_auth_token

    def persona(self, number: str) -> Persona:
        return self.personas.get(e164(number)) or Persona(number=e164(number))

    def take_callback_faults(self, to: str) -> list[CallFault]:
        """Every callback fault matching a new call to `to`: each counts one call."""
        taken: list[CallFault] = []
        while (fault := self.take_fault(to, CALLBACK_FAULTS - {f.kind for f in taken})) is not None:
            taken.append(fault)
        return taken

    def take_fault(self, to: str, kinds: set[str]) -> CallFault | None:
        for fault in self.faults:
            if fault.kind in kinds and fault.matches(to):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault.model_copy(update={"count": 1})
        return None

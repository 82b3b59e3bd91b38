"""The sandbox's in-memory state: accounts, recorded sends, pending faults and the webhook delivery log.

One process, one event loop: plain lists and dicts, no locks. Faults are consumed in the order they were added,
each by the first send (or webhook, for `drop_webhooks`) it matches.
"""

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from sandbox.config import SandboxConfig

Provider = Literal["cloud", "evolution"]
FaultProvider = Literal["cloud", "evolution", "openai"]

# Meta error codes the sandbox can answer with, as the fixtures show them: code -> (title, details, HTTP status).
META_ERRORS: dict[int, tuple[str, str]] = {
    130429: (
        "Rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number in a short "
        "period of time",
    ),
    131026: ("Message undeliverable", "Message Undeliverable."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131050: (
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp "
        "from your business",
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp "
        "from your business",
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same phone "
        "number in a short period of time.",
    ),
}

FaultKind = Literal[
    "http_429",
    "http_500",
    "timeout",
    "error_130429",
    "error_131026",
    "error_131047",
    "error_131050",
    "error_131056",
    "not_on_whatsapp",
    "drop_webhooks",
    "slow_accept",
    # The model (chat completions): 429 with Retry-After, 429 quota exhausted, 500, a hang, or a slow answer.
    "model_429",
    "model_quota",
    "model_500",
    "model_timeout",
    "model_delay",
]
# Kinds with no Evolution equivalent apply to Graph API sends only; error_131026 is Evolution's "not on WhatsApp".
CLOUD_ONLY_FAULTS = {"error_130429", "error_131047", "error_131050", "error_131056"}
EVOLUTION_ONLY_FAULTS = {"not_on_whatsapp"}
MODEL_FAULTS = {"model_429", "model_quota", "model_500", "model_timeout", "model_delay"}


def now() -> datetime:
    return datetime.now(tz=UTC)


def e164(number: str) -> str:
    return "+" + "".join(ch for ch in number if ch.isdigit())


class Fault(BaseModel):
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    to: str | None = None  # E.164; None matches every recipient
    provider: FaultProvider | None = None  # None matches every provider the kind applies to
    # Model faults: the request's `safety_identifier` (or `user`) to match, e.g. "lead:<id>"; None matches every call.
    user: str | None = None
    # How long a `timeout` hangs before answering 504, or a `slow_accept` before answering the accepted send (the
    # message is recorded and its status webhooks go out at once: a caller dying meanwhile never hears the answer).
    delay_seconds: float = Field(default=30.0, ge=0, le=600)
    deferred: bool = False  # error_*: accept the send, then deliver a `failed` status webhook with that code
    id: str = Field(default_factory=lambda: secrets.token_hex(6))

    def matches_send(self, provider: Provider, to: str) -> bool:
        if self.kind == "drop_webhooks" or self.kind in MODEL_FAULTS:
            return False
        if provider == "cloud" and self.kind in EVOLUTION_ONLY_FAULTS:
            return False
        if provider == "evolution" and self.kind in CLOUD_ONLY_FAULTS:
            return False
        return self._matches(provider, to)

    def matches_model_call(self, user: str | None) -> bool:
        return self.kind in MODEL_FAULTS and (self.user is None or self.user == user)

    def matches_webhook(self, provider: Provider, to: str | None) -> bool:
        return self.kind == "drop_webhooks" and self._matches(provider, to)

    def _matches(self, provider: Provider, to: str | None) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        return self.to is None or (to is not None and e164(self.to) == e164(to))


class CloudAccount(BaseModel):
    phone_number_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None = None
    display_phone_number: str = "14155550100"
    waba_id: str = "102938475610293"


class EvolutionInstance(BaseModel):
    instance: str
    api_key: str  # the instance's own token (the global key is accepted too)
    webhook_url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # custom headers, as set through `webhook/set`
    owner_phone: str = "14155550100"


class TemplateSent(BaseModel):
    name: str
    language: str
    parameters: list[str]


class RecordedMessage(BaseModel):
    id: str
    provider: Provider
    account: str  # phone number id or instance name
    to: str  # E.164
    type: Literal["text", "template"]
    text: str | None = None
    template: TemplateSent | None = None
    idempotency_key: str | None = None
    callback_data: str | None = None  # Graph `biz_opaque_callback_data`, echoed in the status webhooks
    request_body: dict[str, Any]
    accepted_at: datetime
    statuses: list[str] = Field(default_factory=list)  # the status webhooks delivered for it, in order


class WebhookDelivery(BaseModel):
    id: str = Field(default_factory=lambda: secrets.token_hex(6))
    provider: Provider
    event: str  # inbound_message | status:<status> | connection_update
    url: str
    phone: str | None  # the lead's number (sender or recipient), E.164
    message_id: str | None
    status_code: int | None = None  # None when dropped or not answered
    error: str | None = None
    dropped: bool = False
    signature: Literal["valid", "invalid", "missing"] = "valid"
    delivered_at: datetime = Field(default_factory=now)


class ModelCall(BaseModel):
    """One chat completions request the sandbox model answered (or refused)."""

    id: str
    user: str | None  # the request's safety_identifier (or user)
    model: str
    request_body: dict[str, Any]
    status_code: int
    behaviour: str | None = None  # the scripted behaviour that answered it
    received_at: datetime


class RuntimeOptions(BaseModel):
    cloud_webhook_url: str | None = None
    evolution_webhook_url: str | None = None
    auto_status: bool = True
    status_interval_seconds: float = 0.2
    model_delay_seconds: float = 0.0  # every chat completion answers this late (a model's own latency)


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.options = RuntimeOptions(
            cloud_webhook_url=self.config.cloud_webhook_url,
            evolution_webhook_url=self.config.evolution_webhook_url,
            status_interval_seconds=self.config.status_interval_seconds,
        )
        self.cloud_accounts: dict[str, CloudAccount] = {}
        self.evolution_instances: dict[str, EvolutionInstance] = {}
        self.messages: list[RecordedMessage] = []
        self.faults: list[Fault] = []
        self.webhooks: list[WebhookDelivery] = []
        self.model_calls: list[ModelCall] = []

    def cloud_account(self, phone_number_id: str) -> CloudAccount:
        """A registered account, or the default credentials for any other phone number id."""
        registered = self.cloud_accounts.get(phone_number_id)
        if registered is not None:
            return registered
        return CloudAccount(
            phone_number_id=phone_number_id,
            access_token=self.config.access_token,
            app_secret=self.config.app_secret,
            webhook_url=self.options.cloud_webhook_url,
            display_phone_number=self.config.display_phone_number,
            waba_id=self.config.waba_id,
        )

    def evolution_instance(self, instance: str) -> EvolutionInstance:
        registered = self.evolution_instances.get(instance)
        if registered is not None:
            return registered
        url = self.options.evolution_webhook_url
        return EvolutionInstance(
            instance=instance,
            api_key=self.config.evolution_api_key,
            webhook_url=url.replace("{instance}", instance) if url else None,
            owner_phone=self.config.display_phone_number,
        )

    def take_send_fault(self, provider: Provider, to: str) -> Fault | None:
        return self._take(lambda f: f.matches_send(provider, to))

    def take_model_fault(self, user: str | None) -> Fault | None:
        return self._take(lambda f: f.matches_model_call(user))

    def take_webhook_drop(self, provider: Provider, phone: str | None) -> bool:
        return self._take(lambda f: f.matches_webhook(provider, phone)) is not None

    def _take(self, predicate: Any) -> Fault | None:
        for fault in self.faults:
            if predicate(fault):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault.model_copy(update={"count": 1})
        return None

    def message(self, message_id: str) -> RecordedMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

"""The events a WhatsApp webhook carries, in the provider-independent form both wire-format parsers produce.

- `InboundMessage`: a message a person sent us (text, button, interactive reply, reaction or unsupported type),
  with the provider's message id (the de-duplication key), the sender as E.164, the time and the contact's name.
- `StatusEvent`: sent / delivered / read / failed for a message we sent, with the error code when failed.
- `ConnectionUpdate`: an Evolution instance connected or disconnected.

`event` is each model's tag: `WhatsAppEvent` (a pydantic discriminated union on it) reads a stored event back.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from providers.whatsapp.base import ErrorKind


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"  # a template quick-reply button
    INTERACTIVE = "interactive"  # an interactive button or list reply
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"  # media, polls, anything Leadflow does not read: still a sign of life


class MessageStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class InboundMessage(_Event):
    event: Literal["inbound_message"] = "inbound_message"
    provider: Literal["cloud", "evolution"]
    account_id: str  # which tenant account received it: Meta phone_number_id, Evolution instance name
    provider_message_id: str
    from_phone: str  # E.164
    kind: InboundKind
    text: str | None = None  # the body; the button/reply title; the reaction emoji (None: reaction removed)
    payload: str | None = None  # button payload or interactive reply id
    context_message_id: str | None = None  # the business message replied to or reacted to
    unsupported_type: str | None = None
    timestamp: datetime
    contact_name: str | None = None

    @property
    def person(self) -> str:
        return self.from_phone


class StatusEvent(_Event):
    event: Literal["status"] = "status"
    provider: Literal["cloud", "evolution"]
    account_id: str
    provider_message_id: str
    recipient_phone: str | None  # E.164 when the provider says
    status: MessageStatus
    timestamp: datetime
    error_code: str | None = None
    error_title: str | None = None
    error_kind: ErrorKind | None = None
    # Meta echoes the `biz_opaque_callback_data` sent with the message (our outbox idempotency key); Evolution: None.
    callback_data: str | None = None

    @property
    def person(self) -> str:
        return self.recipient_phone or ""


class ConnectionUpdate(_Event):
    event: Literal["connection_update"] = "connection_update"
    provider: Literal["evolution"] = "evolution"
    account_id: str  # instance name
    state: str  # open | connecting | close
    status_reason: int | None = None
    phone: str | None = None  # E.164 of the instance's own number when connected

    @property
    def person(self) -> str:
        return ""  # an account-level event


WhatsAppEvent = Annotated[InboundMessage | StatusEvent | ConnectionUpdate, Field(discriminator="event")]
WHATSAPP_EVENT: TypeAdapter[WhatsAppEvent] = TypeAdapter(WhatsAppEvent)

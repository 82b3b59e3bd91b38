"""Webhook payloads from Meta and Evolution, parsed into normalised events.

`parse_meta_webhook(payload)` and `parse_evolution_webhook(payload)` take the decoded JSON body (verify the raw
bytes first, see `signatures`) and return a list of events in payload order:
- `InboundMessage`: a message a person sent us (text, button, interactive reply, reaction or unsupported type),
  with the provider's message id (the de-duplication key), the sender as E.164, the time and the contact's name.
- `StatusEvent`: sent / delivered / read / failed for a message we sent, with the error code when failed.
- `ConnectionUpdate`: an Evolution instance connected or disconnected.
Whatever is not one of these (other Meta fields, our own sends echoed by Evolution, group chats, receipts Leadflow
does not track) is skipped, not an error. A payload whose shape is wrong raises `WebhookPayloadError`; answer it
with a 4xx. Unknown keys are ignored. Both the Graph v24+ status form (pricing without conversation) and the older
form (conversation + CBP pricing) parse the same.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from providers.whatsapp.base import ErrorKind
from providers.whatsapp.errors import kind_for_meta_code


class WebhookPayloadError(ValueError):
    """The body is not a webhook payload this provider sends."""


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


class ConnectionUpdate(_Event):
    event: Literal["connection_update"] = "connection_update"
    provider: Literal["evolution"] = "evolution"
    account_id: str  # instance name
    state: str  # open | connecting | close
    status_reason: int | None = None
    phone: str | None = None  # E.164 of the instance's own number when connected


WebhookEvent = InboundMessage | StatusEvent | ConnectionUpdate


def to_e164(digits_or_jid: str) -> str:
    """ "14155550123" or "14155550123@s.whatsapp.net" (or with a ":device" suffix) -> "+14155550123"."""
    user = digits_or_jid.split("@", 1)[0].split(":", 1)[0]
    digits = "".join(ch for ch in user if ch.isdigit())
    if not digits:
        raise WebhookPayloadError(f"not a phone number: {digits_or_jid!r}")
    return "+" + digits


def _timestamp(value: Any) -> datetime:
    if isinstance(value, Mapping) and "low" in value:  # protobuf Long as serialised by Baileys
        value = value["low"]
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError) as exc:
        raise WebhookPayloadError(f"not a Unix timestamp: {value!r}") from exc


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"{what} must be an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookPayloadError(f"{what} must be a list")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- Meta ------------------------------------------------------------------------------------------------------


def parse_meta_webhook(payload: Any) -> list[WebhookEvent]:
    """Events of a Cloud API webhook body: `entry[] -> changes[] -> value.messages[] / value.statuses[]`."""
    body = _mapping(payload, "the webhook body")
    if body.get("object") != "whatsapp_business_account":
        raise WebhookPayloadError("not a WhatsApp Business Account webhook (object != whatsapp_business_account)")
    events: list[WebhookEvent] = []
    for entry in _list(body.get("entry"), "entry"):
        for change in _list(_mapping(entry, "entry[]").get("changes"), "changes"):
            change = _mapping(change, "changes[]")
            if change.get("field") != "messages":
                continue  # template status, account updates...: not channel events
            value = _mapping(change.get("value"), "changes[].value")
            metadata = _mapping(value.get("metadata") or {}, "value.metadata")
            account_id = str(metadata.get("phone_number_id") or "")
            names = {
                str(c.get("wa_id")): _str(_mapping(c.get("profile") or {}, "profile").get("name"))
                for c in _list(value.get("contacts"), "contacts")
                if isinstance(c, Mapping)
            }
            for message in _list(value.get("messages"), "messages"):
                events.append(_meta_message(_mapping(message, "messages[]"), account_id, names))
            for status in _list(value.get("statuses"), "statuses"):
                event = _meta_status(_mapping(status, "statuses[]"), account_id)
                if event is not None:
                    events.append(event)
    return events


def _meta_message(message: Mapping[str, Any], account_id: str, names: Mapping[str, str | None]) -> InboundMessage:
    message_id = _str(message.get("id"))
    sender = _str(message.get("from"))
    if not message_id or not sender:
        raise WebhookPayloadError("a message needs `id` and `from`")
    kind_name = message.get("type")
    context = message.get("context")
    context_id = _str(context.get("id")) if isinstance(context, Mapping) else None
    text: str | None = None
    payload: str | None = None
    unsupported_type: str | None = None
    if kind_name == "text":
        kind = InboundKind.TEXT
        text = _str(_mapping(message.get("text"), "text").get("body"))
    elif kind_name == "button":
        kind = InboundKind.BUTTON
        button = _mapping(message.get("button"), "button")
        text, payload = _str(button.get("text")), _str(button.get("payload"))
    elif kind_name == "interactive":
        kind = InboundKind.INTERACTIVE
        interactive = _mapping(message.get("interactive"), "interactive")
        reply = interactive.get(str(interactive.get("type")))  # button_reply / list_reply
        if isinstance(reply, Mapping):
            text, payload = _str(reply.get("title")), _str(reply.get("id"))
    elif kind_name == "reaction":
        kind = InboundKind.REACTION
        reaction = _mapping(message.get("reaction"), "reaction")
        text = _str(reaction.get("emoji"))  # absent when the reaction is removed
        context_id = _str(reaction.get("message_id")) or context_id
    else:
        kind = InboundKind.UNSUPPORTED
        detail = message.get("unsupported")
        unsupported_type = _str(detail.get("type")) if isinstance(detail, Mapping) else _str(kind_name)
    return InboundMessage(
        provider="cloud",
        account_id=account_id,
        provider_message_id=message_id,
        from_phone=to_e164(sender),
        kind=kind,
        text=text,
        payload=payload,
        context_message_id=context_id,
        unsupported_type=unsupported_type,
        timestamp=_timestamp(message.get("timestamp")),
        contact_name=names.get(sender),
    )


_META_STATUSES = {s.value: s for s in MessageStatus}


def _meta_status(status: Mapping[str, Any], account_id: str) -> StatusEvent | None:
    value = _META_STATUSES.get(str(status.get("status")))
    message_id = _str(status.get("id"))
    if value is None:
        return None  # e.g. "deleted" or future values: nothing to track
    if not message_id:
        raise WebhookPayloadError("a status needs `id`")
    errors = [e for e in _list(status.get("errors"), "errors") if isinstance(e, Mapping)]
    code = errors[0].get("code") if errors else None
    recipient = _str(status.get("recipient_id"))
    return StatusEvent(
        provider="cloud",
        account_id=account_id,
        provider_message_id=message_id,
        recipient_phone=to_e164(recipient) if recipient else None,
        status=value,
        timestamp=_timestamp(status.get("timestamp")),
        error_code=str(code) if code is not None else None,
        error_title=_str(errors[0].get("title")) if errors else None,
        error_kind=kind_for_meta_code(int(code)) if isinstance(code, int) else None,
        callback_data=_str(status.get("biz_opaque_callback_data")),
    )


# --- Evolution -------------------------------------------------------------------------------------------------

# Baileys acks as Evolution names them; PENDING (not yet on the server), PLAYED and DELETED are mapped or skipped.
_EVOLUTION_STATUSES = {
    "ERROR": MessageStatus.FAILED,
    "SERVER_ACK": MessageStatus.SENT,
    "DELIVERY_ACK": MessageStatus.DELIVERED,
    "READ": MessageStatus.READ,
    "PLAYED": MessageStatus.READ,
}


def evolution_event_name(value: Any) -> str:
    """ "messages.upsert" and "MESSAGES_UPSERT" both -> "MESSAGES_UPSERT"."""
    return str(value or "").replace(".", "_").replace("-", "_").upper()


def parse_evolution_webhook(payload: Any) -> list[WebhookEvent]:
    """Events of an Evolution API webhook body (MESSAGES_UPSERT, MESSAGES_UPDATE, CONNECTION_UPDATE)."""
    body = _mapping(payload, "the webhook body")
    event = evolution_event_name(body.get("event"))
    instance = _str(body.get("instance"))
    if not event or not instance:
        raise WebhookPayloadError("an Evolution webhook needs `event` and `instance`")
    data = body.get("data")
    items = data if isinstance(data, list) else [data]  # upserts may come batched
    events: list[WebhookEvent] = []
    for item in items:
        item = _mapping(item, "data")
        parsed: WebhookEvent | None
        if event == "MESSAGES_UPSERT":
            parsed = _evolution_message(item, instance, body)
        elif event == "MESSAGES_UPDATE":
            parsed = _evolution_status(item, instance, body)
        elif event == "CONNECTION_UPDATE":
            parsed = _evolution_connection(item, instance)
        else:
            parsed = None
        if parsed is not None:
            events.append(parsed)
    return events


def _evolution_phone_jid(key: Mapping[str, Any]) -> str | None:
    """The sender's phone JID: `remoteJid` when phone-addressed, `remoteJidAlt` when LID-addressed."""
    for field in ("remoteJid", "remoteJidAlt"):
        jid = _str(key.get(field))
        if jid and jid.endswith("@s.whatsapp.net"):
            return jid
    return None


def _evolution_message(data: Mapping[str, Any], instance: str, body: Mapping[str, Any]) -> InboundMessage | None:
    key = _mapping(data.get("key"), "data.key")
    if key.get("fromMe"):
        return None  # our own send echoed back
    jid = _evolution_phone_jid(key)
    message_id = _str(key.get("id"))
    if not message_id:
        raise WebhookPayloadError("data.key.id is missing")
    if jid is None:
        return None  # group, broadcast or a LID without a phone: no lead to attach it to
    raw_content = data.get("message")
    content: Mapping[str, Any] = raw_content if isinstance(raw_content, Mapping) else {}
    message_type = _str(data.get("messageType")) or next(iter(content), "unknown")
    kind = InboundKind.TEXT
    text: str | None = None
    payload: str | None = None
    context_id: str | None = None
    unsupported_type: str | None = None
    if "conversation" in content:
        text = _str(content.get("conversation"))
    elif isinstance(content.get("extendedTextMessage"), Mapping):
        extended = content["extendedTextMessage"]
        text = _str(extended.get("text"))
        info = extended.get("contextInfo")
        context_id = _str(info.get("stanzaId")) if isinstance(info, Mapping) else None
    elif isinstance(content.get("buttonsResponseMessage"), Mapping):
        kind = InboundKind.BUTTON
        reply = content["buttonsResponseMessage"]
        text, payload = _str(reply.get("selectedDisplayText")), _str(reply.get("selectedButtonId"))
    elif isinstance(content.get("templateButtonReplyMessage"), Mapping):
        kind = InboundKind.BUTTON
        reply = content["templateButtonReplyMessage"]
        text, payload = _str(reply.get("selectedDisplayText")), _str(reply.get("selectedId"))
    elif isinstance(content.get("listResponseMessage"), Mapping):
        kind = InboundKind.INTERACTIVE
        reply = content["listResponseMessage"]
        selected = reply.get("singleSelectReply")
        text = _str(reply.get("title"))
        payload = _str(selected.get("selectedRowId")) if isinstance(selected, Mapping) else None
    elif isinstance(content.get("reactionMessage"), Mapping):
        kind = InboundKind.REACTION
        reaction = content["reactionMessage"]
        text = _str(reaction.get("text"))
        reacted = reaction.get("key")
        context_id = _str(reacted.get("id")) if isinstance(reacted, Mapping) else None
    else:
        kind = InboundKind.UNSUPPORTED
        unsupported_type = message_type
    return InboundMessage(
        provider="evolution",
        account_id=instance,
        provider_message_id=message_id,
        from_phone=to_e164(jid),
        kind=kind,
        text=text,
        payload=payload,
        context_message_id=context_id,
        unsupported_type=unsupported_type,
        timestamp=_timestamp(data.get("messageTimestamp", _iso_seconds(body.get("date_time")))),
        contact_name=_str(data.get("pushName")),
    )


def _iso_seconds(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _evolution_status(data: Mapping[str, Any], instance: str, body: Mapping[str, Any]) -> StatusEvent | None:
    if data.get("fromMe") is False:
        return None  # receipts about messages the lead sent us
    status = _EVOLUTION_STATUSES.get(str(data.get("status")))
    message_id = _str(data.get("keyId")) or _str(_mapping(data.get("key") or {}, "data.key").get("id"))
    if status is None:
        return None
    if not message_id:
        raise WebhookPayloadError("data.keyId is missing")
    jid = _str(data.get("remoteJid"))
    seconds = _iso_seconds(body.get("date_time"))
    return StatusEvent(
        provider="evolution",
        account_id=instance,
        provider_message_id=message_id,
        recipient_phone=to_e164(jid) if jid and jid.endswith("@s.whatsapp.net") else None,
        status=status,
        timestamp=_timestamp(seconds) if seconds is not None else datetime.now(tz=UTC),
        error_code="evolution_error" if status is MessageStatus.FAILED else None,
    )


def _evolution_connection(data: Mapping[str, Any], instance: str) -> ConnectionUpdate:
    state = _str(data.get("state"))
    if not state:
        raise WebhookPayloadError("data.state is missing")
    reason = data.get("statusReason")
    wuid = _str(data.get("wuid"))
    return ConnectionUpdate(
        account_id=_str(data.get("instance")) or instance,
        state=state,
        status_reason=reason if isinstance(reason, int) else None,
        phone=to_e164(wuid) if wuid else None,
    )

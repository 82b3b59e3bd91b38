"""Evolution API (Baileys) webhooks: the body's wire format, parsed into `providers.whatsapp.events`.

`parse_evolution_webhook(payload)` reads MESSAGES_UPSERT (messages people sent), MESSAGES_UPDATE (acks of our sends)
and CONNECTION_UPDATE (the instance's connection) from the decoded body, batched or not, in payload order. Our own
sends echoed back, group chats, receipts of messages people sent and other events are skipped, not errors; a wrong
shape raises `WebhookPayloadError`. A shard proves a delivery with its key (see `signatures`): `body_apikey` reads
the body's copy of it without failing.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from providers.whatsapp.events import (
    ConnectionUpdate,
    InboundKind,
    InboundMessage,
    MessageStatus,
    StatusEvent,
    WhatsAppEvent,
)
from providers.whatsapp.payload import WebhookPayloadError, as_mapping, text_or_none, to_e164, unix_time


def body_apikey(payload: Any) -> str | None:
    """The instance token Evolution puts in the body (`apikey`), if any."""
    key = payload.get("apikey") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


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


def parse_evolution_webhook(payload: Any) -> list[WhatsAppEvent]:
    """Events of an Evolution API webhook body (MESSAGES_UPSERT, MESSAGES_UPDATE, CONNECTION_UPDATE)."""
    body = as_mapping(payload, "the webhook body")
    event = evolution_event_name(body.get("event"))
    instance = text_or_none(body.get("instance"))
    if not event or not instance:
        raise WebhookPayloadError("an Evolution webhook needs `event` and `instance`")
    data = body.get("data")
    items = data if isinstance(data, list) else [data]  # upserts may come batched
    events: list[WhatsAppEvent] = []
    for item in items:
        item = as_mapping(item, "data")
        parsed: WhatsAppEvent | None
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
        jid = text_or_none(key.get(field))
        if jid and jid.endswith("@s.whatsapp.net"):
            return jid
    return None


def _evolution_message(data: Mapping[str, Any], instance: str, body: Mapping[str, Any]) -> InboundMessage | None:
    key = as_mapping(data.get("key"), "data.key")
    if key.get("fromMe"):
        return None  # our own send echoed back
    jid = _evolution_phone_jid(key)
    message_id = text_or_none(key.get("id"))
    if not message_id:
        raise WebhookPayloadError("data.key.id is missing")
    if jid is None:
        return None  # group, broadcast or a LID without a phone: no lead to attach it to
    raw_content = data.get("message")
    content: Mapping[str, Any] = raw_content if isinstance(raw_content, Mapping) else {}
    message_type = text_or_none(data.get("messageType")) or next(iter(content), "unknown")
    kind = InboundKind.TEXT
    text: str | None = None
    payload: str | None = None
    context_id: str | None = None
    unsupported_type: str | None = None
    if "conversation" in content:
        text = text_or_none(content.get("conversation"))
    elif isinstance(content.get("extendedTextMessage"), Mapping):
        extended = content["extendedTextMessage"]
        text = text_or_none(extended.get("text"))
        info = extended.get("contextInfo")
        context_id = text_or_none(info.get("stanzaId")) if isinstance(info, Mapping) else None
    elif isinstance(content.get("buttonsResponseMessage"), Mapping):
        kind = InboundKind.BUTTON
        reply = content["buttonsResponseMessage"]
        text, payload = text_or_none(reply.get("selectedDisplayText")), text_or_none(reply.get("selectedButtonId"))
    elif isinstance(content.get("templateButtonReplyMessage"), Mapping):
        kind = InboundKind.BUTTON
        reply = content["templateButtonReplyMessage"]
        text, payload = text_or_none(reply.get("selectedDisplayText")), text_or_none(reply.get("selectedId"))
    elif isinstance(content.get("listResponseMessage"), Mapping):
        kind = InboundKind.INTERACTIVE
        reply = content["listResponseMessage"]
        selected = reply.get("singleSelectReply")
        text = text_or_none(reply.get("title"))
        payload = text_or_none(selected.get("selectedRowId")) if isinstance(selected, Mapping) else None
    elif isinstance(content.get("reactionMessage"), Mapping):
        kind = InboundKind.REACTION
        reaction = content["reactionMessage"]
        text = text_or_none(reaction.get("text"))
        reacted = reaction.get("key")
        context_id = text_or_none(reacted.get("id")) if isinstance(reacted, Mapping) else None
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
        timestamp=unix_time(data.get("messageTimestamp", _iso_seconds(body.get("date_time")))),
        contact_name=text_or_none(data.get("pushName")),
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
    message_id = text_or_none(data.get("keyId")) or text_or_none(
        as_mapping(data.get("key") or {}, "data.key").get("id")
    )
    if status is None:
        return None
    if not message_id:
        raise WebhookPayloadError("data.keyId is missing")
    jid = text_or_none(data.get("remoteJid"))
    seconds = _iso_seconds(body.get("date_time"))
    return StatusEvent(
        provider="evolution",
        account_id=instance,
        provider_message_id=message_id,
        recipient_phone=to_e164(jid) if jid and jid.endswith("@s.whatsapp.net") else None,
        status=status,
        timestamp=unix_time(seconds) if seconds is not None else datetime.now(tz=UTC),
        error_code="evolution_error" if status is MessageStatus.FAILED else None,
    )


def _evolution_connection(data: Mapping[str, Any], instance: str) -> ConnectionUpdate:
    state = text_or_none(data.get("state"))
    if not state:
        raise WebhookPayloadError("data.state is missing")
    reason = data.get("statusReason")
    wuid = text_or_none(data.get("wuid"))
    return ConnectionUpdate(
        account_id=text_or_none(data.get("instance")) or instance,
        state=state,
        status_reason=reason if isinstance(reason, int) else None,
        phone=to_e164(wuid) if wuid else None,
    )

"""Meta WhatsApp Cloud API webhooks: the body's wire format, parsed into `providers.whatsapp.events`.

`parse_meta_webhook(payload)` takes the decoded JSON body (verify the raw bytes first, see `signatures`) and returns
its events in payload order: `entry[] -> changes[] -> value.messages[] / value.statuses[]`. Changes of other fields
(template status, account updates) and statuses Leadflow does not track are skipped, not errors; a wrong shape
raises `WebhookPayloadError`. Both the Graph v24+ status form (pricing without conversation) and the older form
(conversation + CBP pricing) parse the same.

`phone_number_ids` and `carries_messages` read an unverified body without failing: they tell the verifier which
accounts' app secrets may have signed it.
"""

from collections.abc import Mapping
from typing import Any

from providers.whatsapp.errors import kind_for_meta_code
from providers.whatsapp.events import InboundKind, InboundMessage, MessageStatus, StatusEvent, WhatsAppEvent
from providers.whatsapp.payload import WebhookPayloadError, as_list, as_mapping, text_or_none, to_e164, unix_time


def _changes(payload: Any) -> list[dict[str, Any]]:
    """Every well-formed `entry[].changes[]` object; anything else is passed over."""
    changes: list[dict[str, Any]] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        found = entry.get("changes") if isinstance(entry, dict) else None
        changes.extend(change for change in (found if isinstance(found, list) else []) if isinstance(change, dict))
    return changes


def phone_number_ids(payload: Any) -> list[str]:
    """The `metadata.phone_number_id` of each change, once each, in payload order."""
    ids: list[str] = []
    for change in _changes(payload):
        value = change.get("value")
        metadata = value.get("metadata") if isinstance(value, dict) else None
        number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if isinstance(number_id, str) and number_id and number_id not in ids:
            ids.append(number_id)
    return ids


def carries_messages(payload: Any) -> bool:
    """Whether any change is of the `messages` field (messages and statuses, always with `metadata.phone_number_id`)."""
    return any(change.get("field") == "messages" for change in _changes(payload))


def parse_meta_webhook(payload: Any) -> list[WhatsAppEvent]:
    """Events of a Cloud API webhook body: `entry[] -> changes[] -> value.messages[] / value.statuses[]`."""
    body = as_mapping(payload, "the webhook body")
    if body.get("object") != "whatsapp_business_account":
        raise WebhookPayloadError("not a WhatsApp Business Account webhook (object != whatsapp_business_account)")
    events: list[WhatsAppEvent] = []
    for entry in as_list(body.get("entry"), "entry"):
        for change in as_list(as_mapping(entry, "entry[]").get("changes"), "changes"):
            change = as_mapping(change, "changes[]")
            if change.get("field") != "messages":
                continue  # template status, account updates...: not channel events
            value = as_mapping(change.get("value"), "changes[].value")
            metadata = as_mapping(value.get("metadata") or {}, "value.metadata")
            account_id = str(metadata.get("phone_number_id") or "")
            names = {
                str(c.get("wa_id")): text_or_none(as_mapping(c.get("profile") or {}, "profile").get("name"))
                for c in as_list(value.get("contacts"), "contacts")
                if isinstance(c, Mapping)
            }
            for message in as_list(value.get("messages"), "messages"):
                events.append(_meta_message(as_mapping(message, "messages[]"), account_id, names))
            for status in as_list(value.get("statuses"), "statuses"):
                event = _meta_status(as_mapping(status, "statuses[]"), account_id)
                if event is not None:
                    events.append(event)
    return events


def _meta_message(message: Mapping[str, Any], account_id: str, names: Mapping[str, str | None]) -> InboundMessage:
    message_id = text_or_none(message.get("id"))
    sender = text_or_none(message.get("from"))
    if not message_id or not sender:
        raise WebhookPayloadError("a message needs `id` and `from`")
    kind_name = message.get("type")
    context = message.get("context")
    context_id = text_or_none(context.get("id")) if isinstance(context, Mapping) else None
    text: str | None = None
    payload: str | None = None
    unsupported_type: str | None = None
    if kind_name == "text":
        kind = InboundKind.TEXT
        text = text_or_none(as_mapping(message.get("text"), "text").get("body"))
    elif kind_name == "button":
        kind = InboundKind.BUTTON
        button = as_mapping(message.get("button"), "button")
        text, payload = text_or_none(button.get("text")), text_or_none(button.get("payload"))
    elif kind_name == "interactive":
        kind = InboundKind.INTERACTIVE
        interactive = as_mapping(message.get("interactive"), "interactive")
        reply = interactive.get(str(interactive.get("type")))  # button_reply / list_reply
        if isinstance(reply, Mapping):
            text, payload = text_or_none(reply.get("title")), text_or_none(reply.get("id"))
    elif kind_name == "reaction":
        kind = InboundKind.REACTION
        reaction = as_mapping(message.get("reaction"), "reaction")
        text = text_or_none(reaction.get("emoji"))  # absent when the reaction is removed
        context_id = text_or_none(reaction.get("message_id")) or context_id
    else:
        kind = InboundKind.UNSUPPORTED
        detail = message.get("unsupported")
        unsupported_type = text_or_none(detail.get("type")) if isinstance(detail, Mapping) else text_or_none(kind_name)
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
        timestamp=unix_time(message.get("timestamp")),
        contact_name=names.get(sender),
    )


_META_STATUSES = {s.value: s for s in MessageStatus}


def _meta_status(status: Mapping[str, Any], account_id: str) -> StatusEvent | None:
    value = _META_STATUSES.get(str(status.get("status")))
    message_id = text_or_none(status.get("id"))
    if value is None:
        return None  # e.g. "deleted" or future values: nothing to track
    if not message_id:
        raise WebhookPayloadError("a status needs `id`")
    errors = [e for e in as_list(status.get("errors"), "errors") if isinstance(e, Mapping)]
    code = errors[0].get("code") if errors else None
    recipient = text_or_none(status.get("recipient_id"))
    return StatusEvent(
        provider="cloud",
        account_id=account_id,
        provider_message_id=message_id,
        recipient_phone=to_e164(recipient) if recipient else None,
        status=value,
        timestamp=unix_time(status.get("timestamp")),
        error_code=str(code) if code is not None else None,
        error_title=text_or_none(errors[0].get("title")) if errors else None,
        error_kind=kind_for_meta_code(int(code)) if isinstance(code, int) else None,
        callback_data=text_or_none(status.get("biz_opaque_callback_data")),
    )

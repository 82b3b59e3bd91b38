"""How WhatsApp events sit in the webhook inbox: their keys, their rows, and how a stored row reads back.

An event's key is the provider's own (a redelivery carries the same one): the inbox is unique on it, and the CRM's
`webhook_event` row uses it too. Its order key names the person it is about, so the dispatcher keeps each person's
events in the provider's order.
"""

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from models import WebhookInbox
from providers.whatsapp.events import WHATSAPP_EVENT, InboundMessage, StatusEvent, WhatsAppEvent

log = logging.getLogger(__name__)


def event_key(event: WhatsAppEvent, raw: Any) -> str:
    """The provider's own key for the event: a redelivery of it carries the same one."""
    if isinstance(event, InboundMessage):
        return f"message:{event.provider_message_id}"
    if isinstance(event, StatusEvent):
        return status_key(event.provider_message_id, event.status.value)
    return f"connection:{event.account_id}:{event.state}:{_delivery_time(raw)}"


def status_key(provider_message_id: str, status: str) -> str:
    """The key of a message's status event (`sent`, `delivered`, `read`, `failed`)."""
    return f"status:{provider_message_id}:{status}"


def _delivery_time(raw: Any) -> str:
    """Evolution stamps each delivery (`date_time`); a repeat carries the same stamp. Unstamped: unique."""
    stamp = raw.get("date_time") if isinstance(raw, dict) else None
    return stamp if isinstance(stamp, str) and stamp else str(uuid.uuid4())


def inbox_rows(
    *,
    provider: str,
    account_for: dict[str, str],
    tenant_for: dict[str, uuid.UUID | None],
    raw: Any,
    events: Sequence[WhatsAppEvent],
) -> list[dict[str, Any]]:
    """One inbox row per event of a verified delivery. `account_for` maps an event's `account_id` to the account
    the delivery was verified for (Meta's phone number id, or the Evolution shard); events of other accounts are
    dropped. `tenant_for` names the tenant where verification already knows it."""
    rows = []
    for event in events:
        account_id = account_for.get(event.account_id)
        if account_id is None:
            log.warning("webhook event for unverified or unknown account %s skipped", event.account_id)
            continue
        rows.append(
            {
                "provider": provider,
                "account_id": account_id,
                "event_key": event_key(event, raw),
                "order_key": f"{provider}:{account_id}:{event.person}"[:200],
                "kind": event.event,
                "tenant_id": tenant_for.get(event.account_id),
                "event": event.model_dump(mode="json"),
                "raw": raw,
            }
        )
    return rows


def stored_event(row: WebhookInbox) -> WhatsAppEvent:
    """The event as the parser produced it, read back from its inbox row."""
    return WHATSAPP_EVENT.validate_python(row.event)

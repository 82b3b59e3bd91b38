"""Inbound WhatsApp events behind the webhook inbox: what the dispatcher does with one verified event.

The webhook route only verifies a delivery and stores its events in `webhook_inbox` (`inbox_rows` names each event's
keys). The dispatcher then calls `handle_inbox_event` per event, in each person's order:
1. `InboundStore.store_events`: the event is inserted into `webhook_event` unique on (provider, tenant, provider
   event id); a repeat is recognised there and changes nothing. A new inbound message is attached to its lead (an
   unknown number creates a lead with source `whatsapp`), stored in the lead's conversation and put on its timeline
   (a reaction taken back is stored raw only: it is not a message); a status event moves its message forward (never
   backwards). A Cloud status whose `biz_opaque_callback_data` names an outbox row still `sending` (the send activity
   died or lost the answer mid-call) first reconciles that row: the message is stored as the send activity would have
   stored it, and the activity's re-run returns it instead of sending again.
2. commit, then tell open inboxes what changed (core/live_events.py), signal each returned `InboundSignal` to the
   lead's workflow (signal-with-start) and mark the events signalled. When Temporal cannot be reached the dispatcher
   tries the inbox event again later; the repeat is recognised as stored-but-unsignalled and the signal goes out
   then.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from channels.whatsapp.outbox import store_accepted
from core.config import Settings
from core.errors import ServiceUnavailable
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from domain.opt_out import is_opt_out, is_opt_out_button
from domain.stages import Stage
from domain.whatsapp_messages import InboundWhatsAppMessage, WhatsAppProviderOptOut, WhatsAppProviderUndeliverable
from models import Lead, Tenant, WebhookInbox
from providers.whatsapp.base import ErrorKind
from providers.whatsapp.inbound import ConnectionUpdate, InboundKind, InboundMessage, StatusEvent
from repositories.conversations import ConversationRepository
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.outbox import OutboxRepository
from repositories.shards import ShardRepository
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from repositories.timeline import TimelineRepository
from repositories.webhook_events import WebhookEventRepository
from workflow_clients.lead import LeadWorkflowClient

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"

WhatsAppEvent = InboundMessage | StatusEvent | ConnectionUpdate

# How an inbox row's `kind` is read back into the event the parser produced.
_EVENT_TYPES: dict[str, TypeAdapter[Any]] = {
    "inbound_message": TypeAdapter(InboundMessage),
    "status": TypeAdapter(StatusEvent),
    "connection_update": TypeAdapter(ConnectionUpdate),
}


def event_kind(event: WhatsAppEvent) -> str:
    if isinstance(event, InboundMessage):
        return "inbound_message"
    return "status" if isinstance(event, StatusEvent) else "connection_update"


def event_key(event: WhatsAppEvent, raw: Any) -> str:
    """The provider's own key for the event: a redelivery of it carries the same one."""
    if isinstance(event, InboundMessage):
        return f"message:{event.provider_message_id}"
    if isinstance(event, StatusEvent):
        return f"status:{event.provider_message_id}:{event.status.value}"
    return f"connection:{event.account_id}:{event.state}:{_delivery_time(raw)}"


def event_phone(event: WhatsAppEvent) -> str:
    """The person the event is about (empty for account-level events)."""
    if isinstance(event, InboundMessage):
        return event.from_phone
    if isinstance(event, StatusEvent):
        return event.recipient_phone or ""
    return ""


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
                "order_key": f"{provider}:{account_id}:{event_phone(event)}"[:200],
                "kind": event_kind(event),
                "tenant_id": tenant_for.get(event.account_id),
                "event": event.model_dump(mode="json"),
                "raw": raw,
            }
        )
    return rows


async def handle_inbox_event(
    row: WebhookInbox,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    live: LiveEvents | None = None,
) -> None:
    """Store one inbox event in the CRM and signal its lead's workflow; raises ServiceUnavailable to be retried."""
    event: WhatsAppEvent = _EVENT_TYPES[row.kind].validate_python(row.event)
    async with session_factory() as session:
        tenant_id = row.tenant_id
        if tenant_id is None and row.provider == "evolution":
            tenant_id = await evolution_tenant_for(session=session, shard_name=row.account_id, phone=event_phone(event))
        if tenant_id is None:
            return  # no tenant on this shard yet: nothing to attach the event to
        store = InboundStore(session, settings)
        signals = await store.store_events(
            provider=row.provider, raw=row.raw, events=[event], tenant_for={event.account_id: tenant_id}
        )
        await session.commit()
        if live is not None:
            await live.publish(*store.changed)
        await deliver_signals(session=session, temporal=temporal, signals=signals, settings=settings)


# `failed` statuses the lead's workflow must hear of: an opt-out (131050) and an undeliverable number (131026).
SIGNALLED_STATUS_KINDS = (ErrorKind.OPTED_OUT, ErrorKind.UNDELIVERABLE)


@dataclass(frozen=True, slots=True)
class InboundSignal:
    """One inbound message to hand to its lead's workflow (after the transaction that stored it commits)."""

    webhook_event_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    lead_created: bool
    provider: str
    provider_message_id: str
    message_id: uuid.UUID | None
    body: str
    received_at: datetime
    opt_out: bool
    # Not a message but a `failed` status saying the person stopped messages from this business (131050).
    provider_opt_out: bool = False
    # Not a message but a `failed` status saying an accepted message could not be delivered (131026).
    provider_undeliverable: bool = False


def _delivery_time(raw: Any) -> str:
    """Evolution stamps each delivery (`date_time`); a repeat carries the same stamp. Unstamped: unique."""
    stamp = raw.get("date_time") if isinstance(raw, dict) else None
    return stamp if isinstance(stamp, str) and stamp else str(uuid.uuid4())


def _lock_order(event: InboundMessage | StatusEvent | ConnectionUpdate) -> tuple[str, str]:
    if isinstance(event, InboundMessage):
        return event.account_id, event.from_phone
    if isinstance(event, StatusEvent):
        return event.account_id, event.recipient_phone or ""
    return event.account_id, ""


class InboundStore:
    """Stores verified events in the CRM in the given session (the caller commits)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.events = WebhookEventRepository(session)
        self.leads = LeadRepository(session)
        self.conversations = ConversationRepository(session)
        self.messages = MessageRepository(session)
        self.timeline = TimelineRepository(session)
        # The session's identity map holds objects weakly: kept here, the tenant and lead rows read while storing
        # are found again without a query when the signal is built after the commit.
        self.loaded: list[object] = []
        # What open inboxes should refetch, published by the caller once it committed.
        self.changed: list[LiveEvent] = []

    def _conversation_changed(self, tenant_id: uuid.UUID, lead_id: uuid.UUID, *, lead_created: bool = False) -> None:
        data = {"lead_id": str(lead_id)}
        self.changed.append(LiveEvent(tenant_id=tenant_id, type=LiveEventType.CONVERSATION_CHANGED, data=data))
        if lead_created:
            self.changed.append(LiveEvent(tenant_id=tenant_id, type=LiveEventType.LEAD_CHANGED, data=data))

    async def store_events(
        self,
        *,
        provider: str,
        raw: Any,
        events: Sequence[InboundMessage | StatusEvent | ConnectionUpdate],
        tenant_for: dict[str, uuid.UUID],
    ) -> list[InboundSignal]:
        """`tenant_for` maps an event's `account_id` to its tenant; events of other accounts are skipped.

        Events are handled in the order of their account and phone number (stable, so one person's events keep
        theirs): a new lead and its conversation stay locked until the delivery commits, and two concurrent
        deliveries naming the same people in opposite orders would otherwise wait for each other (a deadlock).
        """
        signals: list[InboundSignal] = []
        for event in sorted(events, key=_lock_order):
            tenant_id = tenant_for.get(event.account_id)
            if tenant_id is None:
                log.warning("webhook event for unverified or unknown account %s skipped", event.account_id)
                continue
            if isinstance(event, InboundMessage):
                signal = await self._inbound(provider, raw, event, tenant_id)
                if signal is not None:
                    signals.append(signal)
            elif isinstance(event, StatusEvent):
                opt_out = await self._status(provider, raw, event, tenant_id)
                if opt_out is not None:
                    signals.append(opt_out)
            else:
                await self._store_raw(provider, raw, event, tenant_id)
        return signals

    async def _store_raw(self, provider: str, raw: Any, event: WhatsAppEvent, tenant_id: uuid.UUID) -> uuid.UUID | None:
        """The event's raw record under the same key the inbox used (None: stored before, a repeat)."""
        return await self.events.insert_once(
            provider=provider,
            provider_event_id=event_key(event, raw),
            kind=event_kind(event),
            payload={"event": event.model_dump(mode="json"), "raw": raw},
            tenant_id=tenant_id,
        )

    async def _inbound(
        self, provider: str, raw: Any, event: InboundMessage, tenant_id: uuid.UUID
    ) -> InboundSignal | None:
        key = event_key(event, raw)
        event_id = await self._store_raw(provider, raw, event, tenant_id)
        if event.kind is InboundKind.REACTION and event.text is None:
            return None  # a reaction taken back: kept raw above, but nothing was said (no message, unread or preview)
        tenant = await TenantRepository(self.session).get(tenant_id)
        assert tenant is not None
        if event_id is None:
            return await self._unsignalled_repeat(provider, key, event, tenant)
        lead, created = await self._lead_for(tenant, event)
        if lead is None:
            return None
        self.loaded += [tenant, lead]
        await self.events.set_lead(event_id=event_id, lead_id=lead.id)
        conversation = await self.conversations.get_or_create(tenant_id=tenant_id, lead_id=lead.id, channel=CHANNEL)
        body = event.text or (f"[{event.unsupported_type}]" if event.unsupported_type else "")
        message_id = await self.messages.insert_once(
            {
                "tenant_id": tenant_id,
                "conversation_id": conversation.id,
                "lead_id": lead.id,
                "direction": "inbound",
                "kind": event.kind.value,
                "body": body,
                "provider": provider,
                "provider_message_id": event.provider_message_id,
                "status": "received",
                "occurred_at": event.timestamp,
            }
        )
        if message_id is not None:
            self._conversation_changed(tenant_id, lead.id, lead_created=created)
            await self.conversations.record_inbound(conversation_id=conversation.id, at=event.timestamp, preview=body)
            if self._is_opt_out(event):
                await self.conversations.mark_opted_out(tenant_id=tenant_id, lead_id=lead.id, at=event.timestamp)
            await self.timeline.record(
                tenant_id=tenant_id,
                lead_id=lead.id,
                kind="whatsapp_received",
                actor=f"lead:{lead.id}",
                data={"body": body, "kind": event.kind.value, "provider_message_id": event.provider_message_id},
                idempotency_key=f"whatsapp-in:{tenant_id}:{event.provider_message_id}",
                occurred_at=event.timestamp,
            )
        return self._signal(event_id, tenant, lead.id, created, provider, event, message_id, body)

    async def _unsignalled_repeat(
        self, provider: str, key: str, event: InboundMessage, tenant: Tenant
    ) -> InboundSignal | None:
        stored = await self.events.get(provider=provider, tenant_id=tenant.id, provider_event_id=key)
        if stored is None or stored.signalled_at is not None or stored.lead_id is None:
            return None
        message = await self.messages.get_by_provider_id(
            tenant_id=tenant.id, provider_message_id=event.provider_message_id
        )
        body = message.body if message is not None else (event.text or "")
        return self._signal(
            stored.id, tenant, stored.lead_id, False, provider, event, message.id if message else None, body
        )

    def _signal(
        self,
        event_id: uuid.UUID,
        tenant: Tenant,
        lead_id: uuid.UUID,
        created: bool,
        provider: str,
        event: InboundMessage,
        message_id: uuid.UUID | None,
        body: str,
    ) -> InboundSignal:
        return InboundSignal(
            webhook_event_id=event_id,
            tenant_id=tenant.id,
            tenant_slug=tenant.slug,
            lead_id=lead_id,
            lead_created=created,
            provider=provider,
            provider_message_id=event.provider_message_id,
            message_id=message_id,
            body=body,
            received_at=event.timestamp,
            opt_out=self._is_opt_out(event),
        )

    def _is_opt_out(self, event: InboundMessage) -> bool:
        keywords = self.settings.whatsapp_opt_out_keywords
        if event.kind in (InboundKind.BUTTON, InboundKind.INTERACTIVE):
            return is_opt_out_button(event.text, event.payload, keywords)
        return is_opt_out(event.text, keywords)

    async def _lead_for(self, tenant: Tenant, event: InboundMessage) -> tuple[Lead | None, bool]:
        """The tenant's lead with this number, created (source `whatsapp`) when the number is new."""
        try:
            phone = normalize_phone(event.from_phone, tenant.default_region)
        except InvalidPhone as exc:
            log.warning("inbound WhatsApp message from unusable number %s: %s", event.from_phone, exc.reason)
            return None, False
        lead = await self.leads.get_by_phone(tenant_id=tenant.id, phone=phone)
        if lead is not None:
            return lead, False
        status = await StatusRepository(self.session).get_default(tenant_id=tenant.id)
        inserted = await self.leads.insert_many_skip_existing(
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant.id,
                    "phone": phone,
                    "name": event.contact_name or "",
                    "source": "whatsapp",
                    "status_key": status.key if status is not None else "new",
                    "stage": status.stage if status is not None else "new",
                    "timezone": timezone_for_phone(phone, tenant.timezone),
                    "custom_fields": {},
                }
            ]
        )
        # A concurrent delivery may have created it first: then it is simply found.
        lead = await self.leads.get_by_phone(tenant_id=tenant.id, phone=phone)
        if lead is not None and phone in inserted:
            await self.timeline.record_lead_created(lead=lead, actor="whatsapp")
        return lead, phone in inserted

    async def _status(self, provider: str, raw: Any, event: StatusEvent, tenant_id: uuid.UUID) -> InboundSignal | None:
        """Move the message forward; a provider opt-out (131050) is returned to be signalled to the workflow."""
        key = event_key(event, raw)
        event_id = await self._store_raw(provider, raw, event, tenant_id)
        if event_id is None:
            return await self._unsignalled_opt_out_repeat(provider, key, event, tenant_id)
        if event.callback_data:
            await self._reconcile_send(provider, event, tenant_id)
        message = await self.messages.apply_status(
            tenant_id=tenant_id,
            provider_message_id=event.provider_message_id,
            status=event.status.value,
            at=event.timestamp,
            error_code=event.error_code,
            error_message=event.error_title,
        )
        if message is None:
            return None
        self._conversation_changed(tenant_id, message.lead_id)
        await self.events.set_lead(event_id=event_id, lead_id=message.lead_id)
        if event.error_kind not in SIGNALLED_STATUS_KINDS:
            return None
        if event.error_kind is ErrorKind.OPTED_OUT:
            await self.conversations.mark_opted_out(tenant_id=tenant_id, lead_id=message.lead_id, at=event.timestamp)
        return await self._status_signal(event_id, tenant_id, message.lead_id, message.id, provider, event)

    async def _unsignalled_opt_out_repeat(
        self, provider: str, key: str, event: StatusEvent, tenant_id: uuid.UUID
    ) -> InboundSignal | None:
        """A repeated 131050/131026 status whose signal was lost (Temporal down: 503, the provider redelivers):
        signal it now. Other repeated statuses change nothing; the message and conversation were updated the first time.
        """
        if event.error_kind not in SIGNALLED_STATUS_KINDS:
            return None
        stored = await self.events.get(provider=provider, tenant_id=tenant_id, provider_event_id=key)
        if stored is None or stored.signalled_at is not None or stored.lead_id is None:
            return None
        message = await self.messages.get_by_provider_id(
            tenant_id=tenant_id, provider_message_id=event.provider_message_id
        )
        message_id = message.id if message is not None else None
        return await self._status_signal(stored.id, tenant_id, stored.lead_id, message_id, provider, event)

    async def _status_signal(
        self,
        event_id: uuid.UUID,
        tenant_id: uuid.UUID,
        lead_id: uuid.UUID,
        message_id: uuid.UUID | None,
        provider: str,
        event: StatusEvent,
    ) -> InboundSignal:
        """The signal a `failed` status of SIGNALLED_STATUS_KINDS makes: a provider opt-out or an undeliverable
        number."""
        tenant = await TenantRepository(self.session).get(tenant_id)
        assert tenant is not None
        return InboundSignal(
            webhook_event_id=event_id,
            tenant_id=tenant_id,
            tenant_slug=tenant.slug,
            lead_id=lead_id,
            lead_created=False,
            provider=provider,
            provider_message_id=event.provider_message_id,
            message_id=message_id,
            body=event.error_title or "",
            received_at=event.timestamp,
            opt_out=event.error_kind is ErrorKind.OPTED_OUT,
            provider_opt_out=event.error_kind is ErrorKind.OPTED_OUT,
            provider_undeliverable=event.error_kind is ErrorKind.UNDELIVERABLE,
        )

    async def _reconcile_send(self, provider: str, event: StatusEvent, tenant_id: uuid.UUID) -> None:
        """The outbox row this status names, if it still waits for its provider id: stored as sent with this id."""
        outbox = OutboxRepository(self.session)
        row = await outbox.lock(idempotency_key=event.callback_data or "")
        if row is None or row.tenant_id != tenant_id or row.state != "sending" or row.provider_message_id:
            return
        lead = await self.session.get(Lead, row.lead_id)
        if lead is None:
            return
        await store_accepted(
            self.session,
            row=row,
            lead=lead,
            provider_name=str(row.payload.get("_provider") or provider),
            provider_message_id=event.provider_message_id,
        )
        log.info("outbox %s reconciled from a %s status webhook: %s", row.id, provider, event.provider_message_id)


async def evolution_tenant_for(*, session: AsyncSession, shard_name: str, phone: str) -> uuid.UUID | None:
    """The tenant an Evolution event on the shard belongs to.

    A shard usually serves one tenant. When it serves several, the tenant that already has a lead with the
    sender's number wins (its most recently active conversation); a new number goes to the earliest-assigned one.
    """
    tenant_ids = await ShardRepository(session).tenant_ids_on(shard=shard_name)
    if len(tenant_ids) <= 1 or not phone:
        return tenant_ids[0] if tenant_ids else None
    return (
        await ConversationRepository(session).latest_tenant_for_phone(tenant_ids=tenant_ids, phone=phone)
        or (tenant_ids[0])
    )


async def deliver_signals(
    *, session: AsyncSession, temporal: Client, signals: Sequence[InboundSignal], settings: Settings
) -> None:
    """Signal each stored inbound message to its lead's workflow (signal-with-start), then mark it signalled.

    Runs after the commit that stored the events. When Temporal cannot be reached this raises ServiceUnavailable:
    the dispatcher tries the inbox event again later, the repeat is recognised as stored-but-unsignalled, and the
    signal goes out then.
    """
    delivered: list[uuid.UUID] = []
    try:
        for signal in signals:
            await signal_inbound_message(session=session, temporal=temporal, signal=signal, settings=settings)
            delivered.append(signal.webhook_event_id)
    except Exception as exc:
        log.warning("signalling a lead workflow failed: %s", exc)
        raise ServiceUnavailable(
            "the event was stored but its lead workflow could not be signalled; it is tried again",
            headers={"Retry-After": "5"},
        ) from None
    finally:
        if delivered:
            await WebhookEventRepository(session).mark_signalled(event_ids=delivered)
            await session.commit()


async def signal_inbound_message(
    *, session: AsyncSession, temporal: Client, signal: InboundSignal, settings: Settings
) -> None:
    """Signal-with-start: the lead's running workflow gets the message; a lead without one (new, or ended) gets a
    fresh run from its committed row, which then receives the message."""
    # Usually still in the session's identity map from storing the event: no query.
    tenant = await session.get(Tenant, signal.tenant_id)
    lead = await session.get(Lead, signal.lead_id)
    if tenant is None or lead is None or lead.tenant_id != tenant.id:
        return  # deleted since: nothing left to tell
    opt_out_status_key = None
    if signal.opt_out:
        statuses = await StatusRepository(session).list(tenant_id=tenant.id)
        opt_out_status_key = next((s.key for s in statuses if s.stage == Stage.OPTED_OUT), None)
    # A fresh run (the lead's earlier one ended, e.g. won) must still tell the lead's running enrollments.
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    await LeadWorkflowClient(temporal, settings).signal_with_start(
        tenant=tenant,
        lead=lead,
        signal=_signal_name(signal),
        arg=_signal_arg(signal, opt_out_status_key),
        active_enrollments=enrollments,
    )
    if lead.workflow_started_at is None:  # a lead this message created: its workflow runs now (the sweeper skips it)
        await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])


def _signal_name(signal: InboundSignal) -> str:
    if signal.provider_undeliverable:
        return "record_provider_undeliverable"
    return "record_provider_opt_out" if signal.provider_opt_out else "record_inbound_message"


def _signal_arg(
    signal: InboundSignal, opt_out_status_key: str | None
) -> InboundWhatsAppMessage | WhatsAppProviderOptOut | WhatsAppProviderUndeliverable:
    """What the lead's workflow handler for `_signal_name(signal)` takes."""
    if signal.provider_undeliverable:
        return WhatsAppProviderUndeliverable(
            provider_message_id=signal.provider_message_id, reason=signal.body, occurred_at=signal.received_at
        )
    if signal.provider_opt_out:
        return WhatsAppProviderOptOut(
            provider_message_id=signal.provider_message_id,
            reason=signal.body,
            occurred_at=signal.received_at,
            opt_out_status_key=opt_out_status_key,
        )
    return InboundWhatsAppMessage(
        provider=signal.provider,
        provider_message_id=signal.provider_message_id,
        message_id=str(signal.message_id) if signal.message_id else None,
        body=signal.body,
        received_at=signal.received_at,
        opt_out=signal.opt_out,
        lead_created=signal.lead_created,
        opt_out_status_key=opt_out_status_key,
    )

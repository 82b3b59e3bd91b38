"""Inbound WhatsApp events behind the webhook inbox: what the dispatcher does with one verified event.

The webhook route only verifies a delivery and stores its events in `webhook_inbox` (channels/whatsapp/webhooks.py).
The dispatcher then hands each event to `WhatsAppInbound.handle`, in each person's order:
1. `InboundStore.store_events`: the event is inserted into `webhook_event` unique on (provider, tenant, provider
   event id); a repeat is recognised there and changes nothing. A new inbound message is attached to its lead (an
   unknown number creates a lead with source `whatsapp`), stored in the lead's conversation and put on its timeline
   (a reaction taken back is stored raw only: it is not a message); a message that is not an opt-out also ends, in
   the same transaction, the lead's enrollments that a reply ends (their rows' `exits_on_reply_after`, which their
   workflows mirror), so they show `replied` before their workflows hear of it. A status event moves its message
   forward (never backwards). A Cloud status whose `biz_opaque_callback_data` names an outbox row still `sending`
   (the send activity died or lost the answer mid-call) first reconciles that row: the message is stored as the send
   activity would have stored it, and the activity's re-run returns it instead of sending again.
   A run of one person's consecutive events (`handle_run`) is stored the same way, event by event, in one
   transaction; the lead and its conversation are read once for the run.
2. commit, then tell open inboxes what changed (core/live_events.py) and hand each returned `LeadSignal` to
   channels/lead_signals.py, which signals the lead's workflow (signal-with-start) and marks the event signalled.
   When Temporal cannot be reached the dispatcher tries the inbox event again later; the repeat is recognised as
   stored-but-unsignalled and the signal goes out then.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from channels.lead_signals import LeadSignal, deliver_signals
from channels.leads import lead_for_number
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.inbox import event_key, stored_event
from channels.whatsapp.outbox import store_accepted
from core.config import Settings
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from domain.opt_out import is_opt_out, is_opt_out_button
from domain.whatsapp_messages import InboundWhatsAppMessage, WhatsAppProviderOptOut, WhatsAppProviderUndeliverable
from models import Conversation, Lead, Tenant, WebhookInbox
from providers.whatsapp.base import ErrorKind
from providers.whatsapp.events import InboundKind, InboundMessage, StatusEvent, WhatsAppEvent
from repositories.conversations import ConversationRepository
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.outbox import OutboxRepository
from repositories.shards import ShardRepository
from repositories.tenants import TenantRepository
from repositories.timeline import TimelineRepository
from repositories.webhook_events import WebhookEventRepository
from workflows.lead_types import LeadInboundSignal

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"

# `failed` statuses the lead's workflow must hear of: an opt-out (131050) and an undeliverable number (131026).
SIGNALLED_STATUS_KINDS = (ErrorKind.OPTED_OUT, ErrorKind.UNDELIVERABLE)


class WhatsAppInbound:
    """The dispatcher's handler of WhatsApp inbox events (an `InboundHandler`, channels/channel.py)."""

    inbox_providers: tuple[str, ...] = WhatsAppChannel.inbox_providers

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        temporal: Client,
        settings: Settings,
        live: LiveEvents | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.temporal = temporal
        self.settings = settings
        self.live = live

    async def handle(self, row: WebhookInbox) -> None:
        await self.handle_run([row])

    async def handle_run(self, rows: Sequence[WebhookInbox]) -> None:
        await handle_inbox_events(
            rows, session_factory=self.session_factory, temporal=self.temporal, settings=self.settings, live=self.live
        )


async def handle_inbox_event(
    row: WebhookInbox,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    live: LiveEvents | None = None,
) -> None:
    """Store one inbox event in the CRM and signal its lead's workflow; raises ServiceUnavailable to be retried."""
    await handle_inbox_events([row], session_factory=session_factory, temporal=temporal, settings=settings, live=live)


async def handle_inbox_events(
    rows: Sequence[WebhookInbox],
    *,
    session_factory: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    live: LiveEvents | None = None,
) -> None:
    """Store inbox events (in order) in the CRM in one transaction, then signal their leads' workflows; raises
    ServiceUnavailable to be retried."""
    async with session_factory() as session:
        store = InboundStore(session, settings)
        signals: list[LeadSignal] = []
        for row in rows:
            event = stored_event(row)
            tenant_id = row.tenant_id
            if tenant_id is None and row.provider == "evolution":
                tenant_id = await evolution_tenant_for(session=session, shard_name=row.account_id, phone=event.person)
            if tenant_id is None:
                continue  # no tenant on this shard yet: nothing to attach the event to
            signals += await store.store_events(
                provider=row.provider,
                raw=row.raw,
                events=[event],
                tenant_for={event.account_id: tenant_id},
                accepted_at=row.received_at,
            )
        await session.commit()
        if live is not None and store.changed:
            await live.publish(*store.changed)
        await deliver_signals(session=session, temporal=temporal, signals=signals, settings=settings)


def _lock_order(event: WhatsAppEvent) -> tuple[str, str]:
    return event.account_id, event.person


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
        self.enrollments = EnrollmentRepository(session)
        # The session's identity map holds objects weakly: kept here, the tenant and lead rows read while storing
        # are found again without a query when the signal is built after the commit.
        self.loaded: list[object] = []
        # What open inboxes should refetch, published by the caller once it committed.
        self.changed: list[LiveEvent] = []
        # Within one transaction, a person's later events find their lead and conversation here (a run's events).
        self._leads: dict[tuple[uuid.UUID, str], Lead] = {}
        self._conversations: dict[uuid.UUID, Conversation] = {}
        self._told: set[tuple[uuid.UUID, uuid.UUID]] = set()
        # Per lead, the latest reply time its enrollments were checked against in this transaction.
        self._reply_checked: dict[uuid.UUID, datetime] = {}

    def _conversation_changed(self, tenant_id: uuid.UUID, lead_id: uuid.UUID, *, lead_created: bool = False) -> None:
        if not lead_created and (tenant_id, lead_id) in self._told:
            return  # open inboxes refetch the conversation once for a run of its messages
        self._told.add((tenant_id, lead_id))
        data = {"lead_id": str(lead_id)}
        self.changed.append(LiveEvent(tenant_id=tenant_id, type=LiveEventType.CONVERSATION_CHANGED, data=data))
        if lead_created:
            self.changed.append(LiveEvent(tenant_id=tenant_id, type=LiveEventType.LEAD_CHANGED, data=data))

    async def store_events(
        self,
        *,
        provider: str,
        raw: Any,
        events: Sequence[WhatsAppEvent],
        tenant_for: dict[str, uuid.UUID],
        accepted_at: datetime | None = None,
    ) -> list[LeadSignal]:
        """`tenant_for` maps an event's `account_id` to its tenant; events of other accounts are skipped.
        `accepted_at`: when the webhook was acknowledged (its inbox row's time), passed on to the lead's workflow.

        Events are handled in the order of their account and phone number (stable, so one person's events keep
        theirs): a new lead and its conversation stay locked until the delivery commits, and two concurrent
        deliveries naming the same people in opposite orders would otherwise wait for each other (a deadlock).
        """
        signals: list[LeadSignal] = []
        for event in sorted(events, key=_lock_order):
            tenant_id = tenant_for.get(event.account_id)
            if tenant_id is None:
                log.warning("webhook event for unverified or unknown account %s skipped", event.account_id)
                continue
            if isinstance(event, InboundMessage):
                signal = await self._inbound(provider, raw, event, tenant_id, accepted_at)
                if signal is not None:
                    signals.append(signal)
            elif isinstance(event, StatusEvent):
                signal = await self._status(provider, raw, event, tenant_id)
                if signal is not None:
                    signals.append(signal)
            else:
                await self._store_raw(provider, raw, event, tenant_id)
        return signals

    async def _store_raw(self, provider: str, raw: Any, event: WhatsAppEvent, tenant_id: uuid.UUID) -> uuid.UUID | None:
        """The event's raw record under the same key the inbox used (None: stored before, a repeat)."""
        return await self.events.insert_once(
            provider=provider,
            provider_event_id=event_key(event, raw),
            kind=event.event,
            payload={"event": event.model_dump(mode="json"), "raw": raw},
            tenant_id=tenant_id,
        )

    async def _inbound(
        self, provider: str, raw: Any, event: InboundMessage, tenant_id: uuid.UUID, accepted_at: datetime | None
    ) -> LeadSignal | None:
        key = event_key(event, raw)
        event_id = await self._store_raw(provider, raw, event, tenant_id)
        if event.kind is InboundKind.REACTION and event.text is None:
            return None  # a reaction taken back: kept raw above, but nothing was said (no message, unread or preview)
        tenant = await TenantRepository(self.session).get(tenant_id)
        assert tenant is not None
        if event_id is None:
            return await self._unsignalled_repeat(provider, key, event, tenant, accepted_at)
        lead, created = await self._lead_for(tenant, event)
        if lead is None:
            return None
        await self.events.set_lead(event_id=event_id, lead_id=lead.id)
        conversation = self._conversations.get(lead.id)
        if conversation is None:
            conversation = await self.conversations.get_or_create(tenant_id=tenant_id, lead_id=lead.id, channel=CHANNEL)
            self._conversations[lead.id] = conversation
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
            elif not created:
                await self._end_enrollments_on_reply(tenant_id, lead.id, event.timestamp)
            await self.timeline.record(
                tenant_id=tenant_id,
                lead_id=lead.id,
                kind="whatsapp_received",
                actor=f"lead:{lead.id}",
                data={"body": body, "kind": event.kind.value, "provider_message_id": event.provider_message_id},
                idempotency_key=f"whatsapp-in:{tenant_id}:{event.provider_message_id}",
                occurred_at=event.timestamp,
            )
        signal = self._message_signal(
            event, provider=provider, message_id=message_id, body=body, lead_created=created, accepted_at=accepted_at
        )
        return LeadSignal(webhook_event_id=event_id, tenant_id=tenant_id, lead_id=lead.id, signal=signal)

    async def _end_enrollments_on_reply(self, tenant_id: uuid.UUID, lead_id: uuid.UUID, at: datetime) -> None:
        """The reply's stop on the enrollment rows, in this transaction: an enrollment that a reply ends shows it
        ended now, while its workflow may still wait behind bulk work to hear of it (an opt-out is left to the
        workflow: it ends enrollments as `opted_out`)."""
        checked = self._reply_checked.get(lead_id)
        if checked is not None and at <= checked:
            return  # a later message of the run, no newer: it ends nothing the first one did not
        self._reply_checked[lead_id] = at
        if await self.enrollments.end_on_reply(tenant_id=tenant_id, lead_id=lead_id, received_at=at):
            data = {"lead_id": str(lead_id)}
            self.changed.append(LiveEvent(tenant_id=tenant_id, type=LiveEventType.ENROLLMENT_CHANGED, data=data))

    async def _lead_for(self, tenant: Tenant, event: InboundMessage) -> tuple[Lead | None, bool]:
        known = self._leads.get((tenant.id, event.from_phone))
        if known is not None:
            return known, False
        lead, created = await lead_for_number(
            self.session, tenant=tenant, number=event.from_phone, name=event.contact_name, source=CHANNEL
        )
        if lead is not None:
            self.loaded += [tenant, lead]
            self._leads[(tenant.id, event.from_phone)] = lead
        return lead, created

    async def _unsignalled_repeat(
        self, provider: str, key: str, event: InboundMessage, tenant: Tenant, accepted_at: datetime | None
    ) -> LeadSignal | None:
        stored = await self.events.get(provider=provider, tenant_id=tenant.id, provider_event_id=key)
        if stored is None or stored.signalled_at is not None or stored.lead_id is None:
            return None
        message = await self.messages.get_by_provider_id(
            tenant_id=tenant.id, provider_message_id=event.provider_message_id
        )
        body = message.body if message is not None else (event.text or "")
        signal = self._message_signal(
            event,
            provider=provider,
            message_id=message.id if message else None,
            body=body,
            lead_created=False,
            accepted_at=accepted_at,
        )
        return LeadSignal(webhook_event_id=stored.id, tenant_id=tenant.id, lead_id=stored.lead_id, signal=signal)

    def _message_signal(
        self,
        event: InboundMessage,
        *,
        provider: str,
        message_id: uuid.UUID | None,
        body: str,
        lead_created: bool,
        accepted_at: datetime | None,
    ) -> InboundWhatsAppMessage:
        """The `record_inbound_message` payload of a stored message."""
        return InboundWhatsAppMessage(
            provider=provider,
            provider_message_id=event.provider_message_id,
            message_id=str(message_id) if message_id else None,
            body=body,
            received_at=event.timestamp,
            accepted_at=accepted_at,
            opt_out=self._is_opt_out(event),
            lead_created=lead_created,
        )

    def _is_opt_out(self, event: InboundMessage) -> bool:
        keywords = self.settings.whatsapp_opt_out_keywords
        if event.kind in (InboundKind.BUTTON, InboundKind.INTERACTIVE):
            return is_opt_out_button(event.text, event.payload, keywords)
        return is_opt_out(event.text, keywords)

    async def _status(self, provider: str, raw: Any, event: StatusEvent, tenant_id: uuid.UUID) -> LeadSignal | None:
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
        return self._status_signal(event_id, tenant_id, message.lead_id, event)

    async def _unsignalled_opt_out_repeat(
        self, provider: str, key: str, event: StatusEvent, tenant_id: uuid.UUID
    ) -> LeadSignal | None:
        """A repeated 131050/131026 status whose signal was lost (Temporal down: 503, the provider redelivers):
        signal it now. Other repeated statuses change nothing; the message and conversation were updated the first time.
        """
        if event.error_kind not in SIGNALLED_STATUS_KINDS:
            return None
        stored = await self.events.get(provider=provider, tenant_id=tenant_id, provider_event_id=key)
        if stored is None or stored.signalled_at is not None or stored.lead_id is None:
            return None
        return self._status_signal(stored.id, tenant_id, stored.lead_id, event)

    def _status_signal(
        self, event_id: uuid.UUID, tenant_id: uuid.UUID, lead_id: uuid.UUID, event: StatusEvent
    ) -> LeadSignal:
        """The signal a `failed` status of SIGNALLED_STATUS_KINDS makes: a provider opt-out or an undeliverable
        number."""
        signal: LeadInboundSignal
        if event.error_kind is ErrorKind.OPTED_OUT:
            signal = WhatsAppProviderOptOut(
                provider_message_id=event.provider_message_id,
                reason=event.error_title or "",
                occurred_at=event.timestamp,
            )
        else:
            signal = WhatsAppProviderUndeliverable(
                provider_message_id=event.provider_message_id,
                reason=event.error_title or "",
                occurred_at=event.timestamp,
            )
        return LeadSignal(webhook_event_id=event_id, tenant_id=tenant_id, lead_id=lead_id, signal=signal)

    async def _reconcile_send(self, provider: str, event: StatusEvent, tenant_id: uuid.UUID) -> None:
        """The outbox row this status names, if it still waits for its provider id: stored as sent with this id."""
        outbox = OutboxRepository(self.session)
        row = await outbox.lock(idempotency_key=event.callback_data or "")
        if row is None or row.tenant_id != tenant_id or row.state != "sending" or row.provider_message_id:
            return
        lead = await self.leads.by_id(row.lead_id)
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

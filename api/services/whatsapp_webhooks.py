"""Inbound WhatsApp webhooks: verify, store each event raw exactly once, update the CRM, and name what to signal.

Order of work for one delivery (the route drives it):
1. verify: Cloud: `X-Hub-Signature-256` over the raw body with the app secret of the account owning the delivery's
   `metadata.phone_number_id` (a delivery with no `messages` change names no phone number: any Cloud account's app
   secret verifies it, and it is acknowledged and ignored); Evolution: the shard's key. Unverified deliveries are
   refused before anything is stored.
2. `store_events`: each event is inserted into `webhook_event` unique on (provider, provider event id); a repeat is
   recognised there and changes nothing. A new inbound message is attached to its lead (an unknown number creates a
   lead with source `whatsapp`), stored in the lead's conversation and put on its timeline (a reaction taken back is
   stored raw only: it is not a message); a status event moves its message forward (never backwards). A Cloud status
   whose `biz_opaque_callback_data` names an outbox row still `sending` (the send activity died or lost the answer
   mid-call) first reconciles that row: the message is stored as the send activity would have stored it, and the
   activity's re-run returns it instead of sending again.
3. the route commits, signals each returned `InboundSignal` to the lead's workflow, then marks the events
   signalled. A repeat of an event that is stored but was never signalled (an inbound message, or a 131050 opt-out
   status) is returned again, so a signal lost to a crash is sent by the provider's retry instead of being dropped.
"""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.lead_workflows import signal_lead_workflow_with_start
from channels.whatsapp.outbox import store_accepted
from channels.whatsapp.shard_router import ShardRouter
from core.config import EvolutionShard, Settings
from core.errors import AppError, Forbidden, NotFound, ServiceUnavailable, Unauthorized
from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from core.secret_box import SecretBox, SecretUnreadable
from domain.opt_out import is_opt_out, is_opt_out_button
from domain.stages import Stage
from domain.whatsapp_messages import InboundWhatsAppMessage, WhatsAppProviderOptOut, WhatsAppProviderUndeliverable
from models import Lead, Tenant, WhatsAppAccount
from providers.whatsapp.base import ErrorKind
from providers.whatsapp.inbound import (
    ConnectionUpdate,
    InboundKind,
    InboundMessage,
    StatusEvent,
    WebhookPayloadError,
    parse_evolution_webhook,
    parse_meta_webhook,
)
from providers.whatsapp.signatures import (
    EVOLUTION_SHARD_KEY_HEADER,
    answer_verification_challenge,
    verify_evolution_key,
    verify_signature,
)
from repositories.conversations import ConversationRepository
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.outbox import OutboxRepository
from repositories.statuses import StatusRepository
from repositories.timeline import TimelineRepository
from repositories.webhook_events import WebhookEventRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"


# `failed` statuses the lead's workflow must hear of: an opt-out (131050) and an undeliverable number (131026).
SIGNALLED_STATUS_KINDS = (ErrorKind.OPTED_OUT, ErrorKind.UNDELIVERABLE)


class BadWebhookPayload(AppError):
    status_code = 400
    code = "bad_webhook_payload"


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


def _decode(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except ValueError:
        return None


def _meta_phone_number_ids(payload: Any) -> list[str]:
    ids: list[str] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(number_id, str) and number_id and number_id not in ids:
                ids.append(number_id)
    return ids


def _carries_messages(payload: Any) -> bool:
    """Whether any change is of the `messages` field (messages and statuses, always with `metadata.phone_number_id`)."""
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if isinstance(change, dict) and change.get("field") == "messages":
                return True
    return False


def app_secret_of(account: WhatsAppAccount, settings: Settings) -> str:
    """The secret Meta (or the sandbox, which signs like Meta) signs this account's webhooks with."""
    if account.provider == "sandbox" and not settings.sandbox_allowed:
        return ""  # no secret, no valid signature: in prod a sandbox account left in the database receives nothing
    if account.app_secret:
        try:
            return SecretBox.for_settings(settings).open(account.app_secret) or ""
        except SecretUnreadable as exc:
            log.error("WhatsApp account of tenant %s: %s", account.tenant_id, exc)
            # Our key is wrong, not the delivery: 503 makes the provider deliver again once the key is fixed.
            raise ServiceUnavailable(
                "this WhatsApp account's app secret cannot be read with the configured keys",
                headers={"Retry-After": "60"},
            ) from None
    return settings.whatsapp_sandbox_app_secret if account.provider == "sandbox" else ""


async def answer_handshake(*, session: AsyncSession, query: dict[str, str], settings: Settings) -> str:
    """The bare challenge when `hub.verify_token` is some account's verify token; otherwise 403."""
    box = SecretBox.for_settings(settings)
    tokens = []
    for stored in await WhatsAppAccountRepository(session).verify_tokens():
        try:
            tokens.append(box.open(stored) or "")
        except SecretUnreadable as exc:
            log.error("a WhatsApp verify token: %s", exc)
    for token in tokens:
        challenge = answer_verification_challenge(query, token)
        if challenge is not None:
            return challenge
    raise Forbidden("the verify token does not match any WhatsApp account (or hub.mode is not 'subscribe')")


async def verify_cloud_delivery(
    *, session: AsyncSession, raw_body: bytes, signature: str | None, settings: Settings
) -> tuple[Any, dict[str, WhatsAppAccount]]:
    """The decoded body and the accounts whose app secret signed it (phone number id -> account); 401 otherwise."""
    if not signature:
        raise Unauthorized("missing X-Hub-Signature-256 header")
    payload = _decode(raw_body)
    if not _carries_messages(payload):
        # Template status, account updates...: Meta names no phone number, only the business account. Answered 200
        # (events of no channel, ignored) once some account's app secret verifies it; refused, Meta would retry it
        # for days and may disable the subscription.
        if not await _signed_by_any_account(session=session, raw_body=raw_body, signature=signature, settings=settings):
            raise Unauthorized("X-Hub-Signature-256 does not match the app secret of any WhatsApp Cloud account")
        return payload, {}
    accounts = await WhatsAppAccountRepository(session).get_by_phone_number_ids(_meta_phone_number_ids(payload))
    verified = {
        number_id: account
        for number_id, account in accounts.items()
        if verify_signature(app_secret_of(account, settings), raw_body, signature)
    }
    if not verified:
        raise Unauthorized("X-Hub-Signature-256 does not match the app secret of the receiving WhatsApp account")
    return payload, verified


async def _signed_by_any_account(*, session: AsyncSession, raw_body: bytes, signature: str, settings: Settings) -> bool:
    """Whether the app secret of some Cloud or sandbox account signed `raw_body`.

    A secret no configured key opens is skipped: such a delivery is ignored anyway, so a redelivery would gain nothing.
    """
    secrets: set[str] = set()
    for account in await WhatsAppAccountRepository(session).list_meta_signed():
        try:
            secrets.add(app_secret_of(account, settings))
        except ServiceUnavailable:
            continue
    return any(verify_signature(secret, raw_body, signature) for secret in secrets)


def verify_evolution_delivery(
    *, router: ShardRouter, shard_name: str, raw_body: bytes, headers: dict[str, str]
) -> tuple[Any, EvolutionShard]:
    shard = router.by_name(shard_name)
    if shard is None:
        raise NotFound(f"no Evolution shard named '{shard_name}' is configured")
    payload = _decode(raw_body)
    body_key = payload.get("apikey") if isinstance(payload, dict) else None
    if not verify_evolution_key(
        shard.api_key, header_value=headers.get(EVOLUTION_SHARD_KEY_HEADER), body_apikey=body_key
    ):
        raise Unauthorized(f"the request does not carry shard '{shard_name}''s key")
    return payload, shard


def parse_cloud(payload: Any) -> list[InboundMessage | StatusEvent | ConnectionUpdate]:
    try:
        return parse_meta_webhook(payload)
    except WebhookPayloadError as exc:
        raise BadWebhookPayload(f"not a WhatsApp Cloud API webhook: {exc}") from None


def parse_evolution(payload: Any) -> list[InboundMessage | StatusEvent | ConnectionUpdate]:
    try:
        return parse_evolution_webhook(payload)
    except WebhookPayloadError as exc:
        raise BadWebhookPayload(f"not an Evolution API webhook: {exc}") from None


def _lock_order(event: InboundMessage | StatusEvent | ConnectionUpdate) -> tuple[str, str]:
    if isinstance(event, InboundMessage):
        return event.account_id, event.from_phone
    if isinstance(event, StatusEvent):
        return event.account_id, event.recipient_phone or ""
    return event.account_id, ""


class InboundStore:
    """Stores one verified delivery's events in the request's session (no commit here)."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.events = WebhookEventRepository(session)
        self.leads = LeadRepository(session)
        self.conversations = ConversationRepository(session)
        self.messages = MessageRepository(session)
        self.timeline = TimelineRepository(session)

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
                await self.events.insert_once(
                    provider=provider,
                    provider_event_id=f"connection:{event.account_id}:{event.state}:{_delivery_time(raw)}",
                    kind="connection_update",
                    payload={"event": event.model_dump(mode="json"), "raw": raw},
                    tenant_id=tenant_id,
                )
        return signals

    async def _inbound(
        self, provider: str, raw: Any, event: InboundMessage, tenant_id: uuid.UUID
    ) -> InboundSignal | None:
        event_key = f"message:{event.provider_message_id}"
        event_id = await self.events.insert_once(
            provider=provider,
            provider_event_id=event_key,
            kind="inbound_message",
            payload={"event": event.model_dump(mode="json"), "raw": raw},
            tenant_id=tenant_id,
        )
        if event.kind is InboundKind.REACTION and event.text is None:
            return None  # a reaction taken back: kept raw above, but nothing was said (no message, unread or preview)
        tenant = await self.leads.get_tenant(tenant_id=tenant_id)
        assert tenant is not None
        if event_id is None:
            return await self._unsignalled_repeat(provider, event_key, event, tenant)
        lead, created = await self._lead_for(tenant, event)
        if lead is None:
            return None
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
        self, provider: str, event_key: str, event: InboundMessage, tenant: Tenant
    ) -> InboundSignal | None:
        stored = await self.events.get(provider=provider, tenant_id=tenant.id, provider_event_id=event_key)
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
        event_key = f"status:{event.provider_message_id}:{event.status.value}"
        event_id = await self.events.insert_once(
            provider=provider,
            provider_event_id=event_key,
            kind="status",
            payload={"event": event.model_dump(mode="json"), "raw": raw},
            tenant_id=tenant_id,
        )
        if event_id is None:
            return await self._unsignalled_opt_out_repeat(provider, event_key, event, tenant_id)
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
        await self.events.set_lead(event_id=event_id, lead_id=message.lead_id)
        if event.error_kind not in SIGNALLED_STATUS_KINDS:
            return None
        if event.error_kind is ErrorKind.OPTED_OUT:
            await self.conversations.mark_opted_out(tenant_id=tenant_id, lead_id=message.lead_id, at=event.timestamp)
        return await self._status_signal(event_id, tenant_id, message.lead_id, message.id, provider, event)

    async def _unsignalled_opt_out_repeat(
        self, provider: str, event_key: str, event: StatusEvent, tenant_id: uuid.UUID
    ) -> InboundSignal | None:
        """A repeated 131050/131026 status whose signal was lost (Temporal down: 503, the provider redelivers):
        signal it now. Other repeated statuses change nothing; the message and conversation were updated the first time.
        """
        if event.error_kind not in SIGNALLED_STATUS_KINDS:
            return None
        stored = await self.events.get(provider=provider, tenant_id=tenant_id, provider_event_id=event_key)
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
        tenant = await self.leads.get_tenant(tenant_id=tenant_id)
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


async def evolution_tenant_for(
    *, session: AsyncSession, router: ShardRouter, shard: EvolutionShard, phone: str | None
) -> uuid.UUID | None:
    """The tenant an Evolution event on `shard` belongs to.

    A shard usually serves one tenant. When it serves several, the tenant that already has a lead with the
    sender's number wins (its most recently active conversation); a new number goes to the earliest-assigned one.
    """
    tenant_ids = await router.tenants_on(session, shard_name=shard.name)
    if len(tenant_ids) <= 1 or phone is None:
        return tenant_ids[0] if tenant_ids else None
    return (
        await ConversationRepository(session).latest_tenant_for_phone(tenant_ids=tenant_ids, phone=phone)
        or (tenant_ids[0])
    )


async def deliver_signals(
    *, session: AsyncSession, temporal: Client, signals: Sequence[InboundSignal], settings: Settings
) -> None:
    """Signal each stored inbound message to its lead's workflow (signal-with-start), then mark it signalled.

    Runs after the commit that stored the events. When Temporal cannot be reached the delivery is answered 503:
    the provider retries it, the repeat is recognised as stored-but-unsignalled, and the signal goes out then.
    """
    delivered: list[uuid.UUID] = []
    try:
        for signal in signals:
            await signal_inbound_message(session=session, temporal=temporal, signal=signal, settings=settings)
            delivered.append(signal.webhook_event_id)
    except Exception as exc:
        log.warning("signalling a lead workflow failed: %s", exc)
        raise ServiceUnavailable(
            "the event was stored but its lead workflow could not be signalled; deliver it again",
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
    await signal_lead_workflow_with_start(
        temporal,
        tenant=tenant,
        lead=lead,
        settings=settings,
        signal=_signal_name(signal),
        arg=_signal_arg(signal, opt_out_status_key),
        active_enrollments=enrollments,
    )


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

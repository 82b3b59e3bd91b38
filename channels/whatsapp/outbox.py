"""Outbound WhatsApp sends, effectively once: the outbox row, the 24-hour window, opt-outs, pacing, provider errors.

`WhatsAppSender.send(data)` is what the `send_whatsapp_message` activity runs. Contract:
- The outbox row for `data.idempotency_key` (workflow id + step) is claimed and locked while deciding, so two
  concurrent executions of one step serialise; a step whose row is `sent` returns the first send's provider message
  id without sending; a row `failed` repeats its refusal.
- A sequence's send of an enrollment a person stopped is refused (`EnrollmentStopped`), one a person paused is held
  (`SendHeld`, the row stays pending): the API records both on the enrollment row before the workflow hears of them.
- An opted-out lead is refused; so is a sequence's send once the lead replied after `stop_on_inbound_after` (the
  reply path stores the reply before any workflow hears of it) or reached one of its `exit_on_stages`, and an AI
  reply once the lead wrote again or a person took the conversation over after `conversation_read_at` (checked after
  pacing, while the row is locked). Free text goes out only inside the 24-hour window after the lead's last inbound
  message, otherwise the step's fallback template, otherwise a refusal (recorded on the timeline).
- Pacing (channels/whatsapp/pacing.py) is decided first, before a connection or the row's lock is taken, and may ask
  the caller to come back later (`SendDeferred`); a send that then makes no request frees its slot at once. The send
  holds the recipient's slot until its provider call is done; the interval to that person's next send starts then.
- The attempt is committed (state `sending`, `started_at`) BEFORE the provider call, and the outcome in a second
  transaction after it; no lock is held across the call. Cloud sends carry the idempotency key as Meta's
  `biz_opaque_callback_data`, which Meta echoes in the message's status webhooks: a status webhook for a row still
  `sending` reconciles it (`store_accepted`, called from the webhook service).
- Once the provider answered with its message id, the id is kept in Redis (channels/whatsapp/accepted.py) before
  anything else, then stored in the row; while PostgreSQL is unreachable the store is retried (heartbeating) until
  it succeeds or the attempt is cancelled. An accepted id is never dropped for a database outage.
- A re-run that finds its row `sending` (the previous attempt died mid-call, timed out or could not store the answer)
  first looks for a kept answer in Redis and stores that, sending nothing. Otherwise it does not send either: it
  raises `SendInFlight` (retry in a few seconds) until a status webhook reconciled the row (then it returns that
  provider message id) or `whatsapp_send_reconcile_window_seconds` have passed since `started_at`; only then does it
  send again. So a second message is possible only when the provider accepted the first but its answer never
  reached Redis or the row (the worker died in that gap, or Redis and PostgreSQL were both down until the attempt
  ended) and no status webhook confirmed it within the window (its webhooks lost). Evolution's sendText takes
  neither callback data nor a caller-chosen message id (body: number, text, delay, quoted, linkPreview, mentions):
  a row of an Evolution send left `sending` with no kept answer is re-sent at once, so a worker dying between the
  provider's acceptance and Redis can send twice (at-least-once there).
- Provider errors: throttling/5xx and refused connections are `SendDeferred` (retry; the row goes back to
  `pending`); a timeout or a connection lost mid-request keeps the row `sending` (the message may have gone out);
  131047 falls back to the template when the step has one; 131050 refuses and asks the workflow to opt the lead
  out; undeliverable numbers are recorded on the message and the timeline and not retried.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.whatsapp.accepted import AcceptedSend, AcceptedSends
from channels.whatsapp.inbox import status_key
from channels.whatsapp.pacing import SendPacer
from channels.whatsapp.shard_router import ShardRouter
from core.activity_metrics import record_pacing_wait
from core.config import Settings
from core.db import autocommit_session, is_database_unavailable
from core.secret_box import SecretBox, SecretUnreadable
from domain import whatsapp_messages as kinds
from domain.stages import Stage
from domain.whatsapp_messages import SendWhatsAppInput, SendWhatsAppResult
from domain.whatsapp_window import SendMode, decide_send
from models import Lead, OutboxMessage, WhatsAppAccount
from providers.whatsapp.base import ErrorKind, SentMessage, WhatsAppProvider, WhatsAppSendError
from providers.whatsapp.factory import WhatsAppAccount as ProviderAccount
from providers.whatsapp.factory import create_provider
from repositories.conversations import ConversationRepository
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.outbox import OutboxRepository
from repositories.statuses import StatusRepository
from repositories.timeline import TimelineRepository
from repositories.webhook_events import WebhookEventRepository
from repositories.webhook_inbox import WebhookInboxRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from workflows.ids import is_lead_workflow_id

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("leadflow.whatsapp")

# Storing an accepted send while PostgreSQL is unreachable: first wait, doubling up to the last.
STORE_RETRY_FIRST_DELAY_SECONDS = 0.25
STORE_RETRY_MAX_DELAY_SECONDS = 5.0
# A sequence send that finds a message from its lead still in the webhook inbox asks again after this long.
INBOUND_WAIT_RETRY_SECONDS = 1.0


# Writes a caller adds to the transaction that stores the provider's answer (a sequence's step rows): the send and
# what it settles commit together, in one transaction where there were two. Not run for a send stored before (a
# re-run that finds it sent or kept, or a status webhook that reconciled it first): its caller writes them itself.
WithAnswer = Callable[[AsyncSession, SendWhatsAppResult], Awaitable[None]]


class SendRefused(Exception):
    """A permanent refusal: `kind` is one of the ApplicationError types in domain/whatsapp_messages.py."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        details: dict[str, str] | None = None,
        provider: str | None = None,
        provider_code: str | None = None,
        failed_send: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details or {}
        # Set when the provider itself refused the message: it is then shown in the conversation as failed.
        self.provider = provider
        self.provider_code = provider_code
        # False for a send that simply is no longer wanted (a reply the conversation overtook): no failed send on the
        # lead's timeline.
        self.failed_send = failed_send


class SendDeferred(Exception):
    """Try again later (throttled by pacing or by the provider, or the provider is unreachable)."""

    def __init__(self, message: str, *, retry_after_seconds: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


class SendHeld(Exception):
    """A person paused the send's enrollment: nothing goes out, the row stays pending, the workflow asks again after
    the resume (not a refusal: the same send may go out then)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SendInFlight(SendDeferred):
    """An earlier attempt of this step may have been accepted: wait for its status webhook instead of resending."""


@dataclass(slots=True)
class _Requested:
    """Whether this attempt made its request to the provider (its pacing slot then ends with `sent`)."""

    done: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    mode: SendMode
    template: str | None


class WhatsAppSender:
    """Built once per worker process with its shared clients."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        pacer: SendPacer,
        accepted: AcceptedSends,
        settings: Settings,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = session_factory
        self._http = http
        self._pacer = pacer
        self._accepted = accepted
        self._settings = settings
        # Called while the store of an accepted send waits for PostgreSQL: the activity's heartbeat, through which
        # Temporal cancels an attempt it gave up on.
        self._heartbeat = heartbeat
        self._router = ShardRouter(settings.whatsapp_evolution_shards)

    async def send(self, data: SendWhatsAppInput, *, with_answer: WithAnswer | None = None) -> SendWhatsAppResult:
        tenant_id, lead_id = uuid.UUID(data.tenant_id), uuid.UUID(data.lead_id)
        # Pacing first, holding no database connection and no row lock: a wait (up to the pacing max wait) then
        # costs the pool nothing. Who and from which number come from a short read that ends before it.
        async with autocommit_session(self._sessions) as session:
            sender = await WhatsAppAccountRepository(session).sender_for_lead(tenant_id=tenant_id, lead_id=lead_id)
        if sender is None:
            return await self._send_paced(data, requested=None)  # refused inside, as before
        account, phone = sender
        lane = account.phone_number_id or str(account.tenant_id)
        await self._pace(lane, phone, data.idempotency_key)
        requested = _Requested()
        try:
            return await self._send_paced(data, requested=requested, account=account, with_answer=with_answer)
        finally:
            if not requested.done:  # nothing reached the provider: the person's slot is free again
                await self._pacer.release(sender=lane, recipient=phone, send_key=data.idempotency_key)

    async def _send_paced(
        self,
        data: SendWhatsAppInput,
        *,
        requested: "_Requested | None",
        account: WhatsAppAccount | None = None,
        with_answer: WithAnswer | None = None,
    ) -> SendWhatsAppResult:
        """The send once paced; `account` is the tenant's account as read for the pacing (read here when None)."""
        tenant_id, lead_id = uuid.UUID(data.tenant_id), uuid.UUID(data.lead_id)
        async with self._sessions() as session:
            lead = await LeadRepository(session).get_fresh(tenant_id=tenant_id, lead_id=lead_id)
            if lead is None:
                raise SendRefused(kinds.LEAD_GONE_SEND, f"lead {lead_id} no longer exists")
            outbox = OutboxRepository(session)
            row = await outbox.claim(
                idempotency_key=data.idempotency_key,
                tenant_id=tenant_id,
                lead_id=lead_id,
                payload=data.model_dump(mode="json"),
            )
            done = _finished(row)
            if done is not None:
                return done
            if row.state == "failed":
                # The first refusal again; an exit stage's refusal names the stage (the lead's, as it is now).
                again = {"stage": str(lead.stage)} if row.error_code == kinds.LEAD_AT_EXIT_STAGE else None
                raise SendRefused(
                    row.error_code or kinds.SEND_REJECTED, row.error_message or "refused earlier", details=again
                )
            if row.state == "sending":
                kept = await self._accepted.recall(idempotency_key=data.idempotency_key)
                if kept is not None:  # the provider took an earlier attempt whose answer never reached this row
                    return await self._store_kept(session, data, lead, row, kept)
                self._check_in_flight(row)
            try:
                provider, plan, lane = await self._prepare(session, data, lead, account)
            except SendRefused as refusal:
                await self._refuse(session, data, lead, row, refusal)
                raise
            except (SendDeferred, SendHeld):
                await session.commit()
                raise
            await outbox.mark_sending(outbox_id=row.id, payload=_payload(data, provider, plan), at=datetime.now(tz=UTC))
            # Durable before the provider hears of it; this also ends the row lock (no lock across the HTTP call).
            await session.commit()
            try:
                sent, plan = await self._deliver_with_fallback(session, provider, lead, data, row, plan)
                accepted = AcceptedSend(provider.name, sent.provider_message_id)
                # First thing done with the answer: an attempt cancelled after this leaves it to its re-run.
                remembered = await self._accepted.remember(idempotency_key=data.idempotency_key, accepted=accepted)
            except WhatsAppSendError as error:
                mapped = await self._map_error(session, lead, error)
                row = await self._relock(outbox, data)
                if isinstance(mapped, SendRefused):
                    await self._refuse(session, data, lead, row, mapped)
                    raise mapped from None
                if _never_reached_provider(error):
                    await outbox.mark_pending(outbox_id=row.id)
                await session.commit()
                raise mapped from None
            finally:
                # The provider has had the request by now, if ever: the interval to this person's next send starts.
                await self._pacer.sent(sender=lane, recipient=lead.phone, send_key=data.idempotency_key)
                if requested is not None:
                    requested.done = True
        return await self._keep_answer(data, lead, accepted, plan, remembered=remembered, with_answer=with_answer)

    async def _keep_answer(
        self,
        data: SendWhatsAppInput,
        lead: Lead,
        accepted: AcceptedSend,
        plan: _Plan,
        *,
        remembered: bool,
        with_answer: WithAnswer | None,
    ) -> SendWhatsAppResult:
        """The provider took the message: its id must reach the row before anything may decide to send again.

        Already kept in Redis (`remembered`), so a re-run finds it even if this attempt ends before PostgreSQL is back;
        now stored, each try in a fresh session (the previous one's connection may be gone).
        """
        delay = STORE_RETRY_FIRST_DELAY_SECONDS
        while True:
            try:
                result = await self._store_answer(data, lead, accepted, plan, with_answer)
                break
            except Exception as error:
                if not is_database_unavailable(error):
                    raise
                log.warning(
                    "send %s accepted as %s but not stored yet (database unavailable: %s); retrying in %.2f s",
                    data.idempotency_key,
                    accepted.provider_message_id,
                    str(error).splitlines()[0],
                    delay,
                )
            self._heartbeat()
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_DELAY_SECONDS)
        if remembered:
            await self._accepted.forget(idempotency_key=data.idempotency_key)
        return result

    async def _store_answer(
        self, data: SendWhatsAppInput, lead: Lead, accepted: AcceptedSend, plan: _Plan, with_answer: WithAnswer | None
    ) -> SendWhatsAppResult:
        async with self._sessions() as session:
            row = await self._relock(OutboxRepository(session), data)
            done = _finished(row)
            if done is not None:  # a status webhook reconciled the row while the answer was on its way
                await session.commit()
                return done.model_copy(update={"duplicate": False})
            stored: list[SendWhatsAppResult] = []

            async def then(message_id: uuid.UUID) -> None:
                result = SendWhatsAppResult(
                    provider_message_id=accepted.provider_message_id,
                    message_id=str(message_id),
                    mode=plan.mode.value,
                    template=plan.template,
                )
                if with_answer is not None:
                    await with_answer(session, result)
                stored.append(result)

            await store_accepted(
                session,
                row=row,
                lead=lead,
                provider_name=accepted.provider,
                provider_message_id=accepted.provider_message_id,
                then=then,
            )
            await session.commit()
        return stored[0]

    async def _store_kept(
        self, session: AsyncSession, data: SendWhatsAppInput, lead: Lead, row: OutboxMessage, kept: AcceptedSend
    ) -> SendWhatsAppResult:
        """Store the answer an earlier attempt kept in Redis (the caller holds the row lock); nothing is sent."""
        log.warning(
            "send %s: storing %s, which the provider accepted in an earlier attempt",
            data.idempotency_key,
            kept.provider_message_id,
        )
        message_id = await store_accepted(
            session, row=row, lead=lead, provider_name=kept.provider, provider_message_id=kept.provider_message_id
        )
        await session.commit()
        await self._accepted.forget(idempotency_key=data.idempotency_key)
        return SendWhatsAppResult(
            provider_message_id=kept.provider_message_id,
            message_id=str(message_id),
            mode=str(row.payload.get("_mode", SendMode.TEXT.value)),
            template=row.payload.get("_template"),
            duplicate=True,
        )

    def _check_in_flight(self, row: OutboxMessage) -> None:
        """Raise `SendInFlight` while an unconfirmed earlier attempt may still be reconciled by a status webhook."""
        if not row.payload.get("_reconcilable") or row.started_at is None:
            log.warning(
                "outbox %s: an earlier %s attempt is unconfirmed; sending again", row.id, row.payload.get("_provider")
            )
            return
        window = self._settings.whatsapp_send_reconcile_window_seconds
        age = (datetime.now(tz=UTC) - row.started_at).total_seconds()
        if age < window:
            wait = min(self._settings.whatsapp_send_reconcile_poll_seconds, window - age)
            raise SendInFlight(
                f"an earlier attempt of this send (started {age:.0f} s ago) may have been accepted; waiting up to "
                f"{window:.0f} s for the provider's status webhook before sending again",
                retry_after_seconds=max(wait, 0.5),
            )
        log.warning(
            "outbox %s: no status webhook within %.0f s of the unconfirmed attempt; sending again", row.id, window
        )

    async def _relock(self, outbox: OutboxRepository, data: SendWhatsAppInput) -> OutboxMessage:
        row = await outbox.lock(idempotency_key=data.idempotency_key)
        assert row is not None  # outbox rows are deleted only with their lead (the lead was read above)
        return row

    async def _refuse(
        self, session: AsyncSession, data: SendWhatsAppInput, lead: Lead, row: OutboxMessage, refusal: SendRefused
    ) -> None:
        await OutboxRepository(session).mark_failed(
            outbox_id=row.id, error_code=refusal.kind, error_message=refusal.message
        )
        if refusal.provider is not None:
            await self._store_failed(session, data, lead, refusal)
        if refusal.failed_send:
            await _record(
                session, lead, data, "whatsapp_send_failed", {"reason": refusal.message, "error": refusal.kind}
            )
        await session.commit()

    async def _prepare(
        self, session: AsyncSession, data: SendWhatsAppInput, lead: Lead, account: WhatsAppAccount | None
    ) -> tuple[WhatsAppProvider, _Plan, str]:
        """The provider, what to send, and the pacing lane (business number) whose recipient slot this send holds;
        `account` as read for the pacing, or None to read it here."""
        # A lead workflow's send (an agent's message, an AI reply) belongs to no enrollment: nothing to look up.
        control = (
            None
            if is_lead_workflow_id(data.workflow_id)
            else await EnrollmentRepository(session).control_of(workflow_id=data.workflow_id)
        )
        if control is not None:
            # A person's stop or pause, stored by the API before the enrollment's workflow (maybe queued behind a
            # burst) hears of it; locked until this decision commits, so a stop recorded after it sees no send after.
            stop_requested_at, pause_requested_at, detail = control
            if stop_requested_at is not None:
                raise SendRefused(
                    kinds.ENROLLMENT_STOPPED,
                    f"the enrollment was stopped at {stop_requested_at.isoformat()}; nothing was sent",
                    details={"detail": detail or "stopped"},
                )
            if pause_requested_at is not None:
                raise SendHeld(
                    f"the enrollment was paused at {pause_requested_at.isoformat()}; the send waits for its resume"
                )
        if lead.stage == Stage.OPTED_OUT:
            raise _opted_out()
        if lead.stage in data.exit_on_stages:
            raise SendRefused(
                kinds.LEAD_AT_EXIT_STAGE,
                f"the lead is at stage '{lead.stage}', which ends this sequence; nothing was sent",
                details={"stage": str(lead.stage)},
                failed_send=False,
            )
        stop_after = data.stop_on_inbound_after
        if data.conversation_read_at is not None and stop_after is None:
            # An AI reply: whether the conversation moved on and the lead's inbound state, in one read.
            waiting = False
            opted_out_at, last_inbound_at = await _check_conversation_not_moved_on(
                session, lead, data.conversation_read_at
            )
        else:
            if data.conversation_read_at is not None:
                await _check_conversation_not_moved_on(session, lead, data.conversation_read_at)
            # The inbox is read before the conversation: the dispatcher records a reply on the conversation before it
            # marks the reply's inbox row done, so a reply handled between the two reads is still seen by the second.
            # (The other order missed one handled in between: the conversation read too early, the row already done.)
            waiting = stop_after is not None and await WebhookInboxRepository(session).inbound_waiting_from(
                phone=lead.phone, tenant_id=lead.tenant_id, since=stop_after
            )
            opted_out_at, last_inbound_at = await ConversationRepository(session).inbound_state(
                tenant_id=lead.tenant_id, lead_id=lead.id
            )
        if opted_out_at is not None:
            raise _opted_out()
        if stop_after is not None and last_inbound_at is not None and last_inbound_at > stop_after:
            raise SendRefused(
                kinds.LEAD_REPLIED,
                f"the lead replied at {last_inbound_at.isoformat()}, after this sequence send was planned; nothing was "
                "sent",
            )
        if waiting:
            # A message from the lead is stored in the webhook inbox, waiting behind other events: wait for it to be
            # handled (then the check above decides) instead of sending past it.
            raise SendDeferred(
                "a message from the lead is stored but not handled yet; the send waits to see whether it is a reply",
                retry_after_seconds=INBOUND_WAIT_RETRY_SECONDS,
            )
        if account is None:
            account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=lead.tenant_id)
        if account is None:
            raise SendRefused(kinds.NOT_CONFIGURED, "this tenant has no WhatsApp account configured")
        provider = await self._provider(session, account)
        decision = decide_send(
            wants_template=data.template,
            fallback_template=data.fallback_template,
            last_inbound_at=last_inbound_at,
            now=datetime.now(tz=UTC),
            window=timedelta(hours=self._settings.whatsapp_service_window_hours),
            provider_has_window=provider.supports_templates,
        )
        if decision.mode is SendMode.REFUSED:
            raise SendRefused(kinds.WINDOW_CLOSED, decision.reason or "outside the 24-hour window")
        if data.text is None and decision.mode is SendMode.TEXT:
            raise SendRefused(kinds.SEND_REJECTED, "nothing to send: give a text or a template")
        lane = account.phone_number_id or str(account.tenant_id)  # paced before the row was claimed (`send`)
        return provider, _Plan(decision.mode, decision.template), lane

    async def _deliver_with_fallback(
        self,
        session: AsyncSession,
        provider: WhatsAppProvider,
        lead: Lead,
        data: SendWhatsAppInput,
        row: OutboxMessage,
        plan: _Plan,
    ) -> tuple[SentMessage, _Plan]:
        try:
            return await self._deliver(provider, lead, data, plan), plan
        except WhatsAppSendError as error:
            if not (error.kind is ErrorKind.WINDOW_CLOSED and plan.mode is SendMode.TEXT and data.fallback_template):
                raise
        plan = _Plan(SendMode.TEMPLATE, data.fallback_template)
        # The attempt now is the template: a webhook reconciling it must store it as such.
        await OutboxRepository(session).set_payload(outbox_id=row.id, payload=_payload(data, provider, plan))
        await session.commit()
        return await self._deliver(provider, lead, data, plan), plan

    async def _provider(self, session: AsyncSession, account: WhatsAppAccount) -> WhatsAppProvider:
        try:
            access_token = SecretBox.for_settings(self._settings).open(account.access_token)
        except SecretUnreadable as exc:
            raise SendRefused(kinds.NOT_CONFIGURED, str(exc)) from None
        config = ProviderAccount(
            provider=account.provider,  # type: ignore[arg-type]
            phone_number_id=account.phone_number_id,
            access_token=access_token,
        )
        if account.provider == "evolution":
            shard = await self._router.shard_for(session, tenant_id=account.tenant_id)
            config = ProviderAccount(
                provider="evolution", instance=shard.instance, api_key=shard.api_key, base_url=shard.base_url
            )
        try:
            return create_provider(self._http, config, self._settings)
        except WhatsAppSendError as error:
            raise SendRefused(kinds.NOT_CONFIGURED, error.message) from None

    async def _pace(self, sender: str, recipient: str, send_key: str) -> None:
        max_wait = self._settings.whatsapp_pacing_max_wait_seconds
        while True:
            wait = await self._pacer.reserve(sender=sender, recipient=recipient, send_key=send_key)
            if wait <= 0:
                return
            if wait > max_wait:
                record_pacing_wait(channel="whatsapp", seconds=wait, deferred=True)
                raise SendDeferred(f"paced: next send to this lead possible in {wait:.1f} s", retry_after_seconds=wait)
            record_pacing_wait(channel="whatsapp", seconds=wait, deferred=False)
            await asyncio.sleep(wait)

    async def _deliver(
        self, provider: WhatsAppProvider, lead: Lead, data: SendWhatsAppInput, plan: _Plan
    ) -> SentMessage:
        # The provider call as a client span of the activity's trace (core/tracing.py).
        with _tracer.start_as_current_span("whatsapp.send", kind=trace.SpanKind.CLIENT) as span:
            span.set_attribute("leadflow.send_mode", plan.mode.value)
            return await self._deliver_now(provider, lead, data, plan)

    async def _deliver_now(
        self, provider: WhatsAppProvider, lead: Lead, data: SendWhatsAppInput, plan: _Plan
    ) -> SentMessage:
        if plan.mode is SendMode.TEMPLATE and plan.template:
            return await provider.send_template(
                lead.phone,
                plan.template,
                data.template_language or self._settings.whatsapp_template_language,
                data.template_parameters,
                idempotency_key=data.idempotency_key,
            )
        return await provider.send_text(lead.phone, data.text or "", idempotency_key=data.idempotency_key)

    async def _map_error(self, session: AsyncSession, lead: Lead, error: WhatsAppSendError) -> Exception:
        mapped = await self._classify(session, lead, error)
        if isinstance(mapped, SendRefused):
            mapped.provider, mapped.provider_code = error.provider, error.code
        return mapped

    async def _classify(self, session: AsyncSession, lead: Lead, error: WhatsAppSendError) -> Exception:
        if error.kind is ErrorKind.RETRYABLE:
            return SendDeferred(str(error), retry_after_seconds=error.retry_after_seconds)
        if error.kind is ErrorKind.OPTED_OUT:
            await ConversationRepository(session).mark_opted_out(
                tenant_id=lead.tenant_id, lead_id=lead.id, at=datetime.now(tz=UTC)
            )
            status = await StatusRepository(session).list(tenant_id=lead.tenant_id)
            opted_out = next((s.key for s in status if s.stage == Stage.OPTED_OUT), "opted_out")
            return SendRefused(
                kinds.RECIPIENT_OPTED_OUT,
                f"the recipient stopped messages from this business ({error.code}); the lead is opted out",
                details={"opt_out_status_key": opted_out},
            )
        if error.kind is ErrorKind.WINDOW_CLOSED:
            return SendRefused(
                kinds.WINDOW_CLOSED, f"outside the 24-hour window ({error.code}) and the step has no fallback template"
            )
        if error.kind is ErrorKind.UNDELIVERABLE:
            return SendRefused(kinds.UNDELIVERABLE, f"the number cannot receive WhatsApp messages ({error.code})")
        return SendRefused(kinds.SEND_REJECTED, str(error))

    async def _store_failed(
        self, session: AsyncSession, data: SendWhatsAppInput, lead: Lead, refusal: SendRefused
    ) -> None:
        """The provider refused the message for good: it stays visible in the conversation, marked failed."""
        now = datetime.now(tz=UTC)
        conversation = await ConversationRepository(session).get_or_create(
            tenant_id=lead.tenant_id, lead_id=lead.id, channel="whatsapp"
        )
        await MessageRepository(session).insert_once(
            {
                "tenant_id": lead.tenant_id,
                "conversation_id": conversation.id,
                "lead_id": lead.id,
                "direction": "outbound",
                "kind": "template" if data.template or (data.fallback_template and not data.text) else "text",
                "body": data.text or f"[template {data.template or data.fallback_template}]",
                "template": data.template,
                "provider": refusal.provider or "",
                "provider_message_id": None,
                "status": "failed",
                "error_code": (refusal.provider_code or refusal.kind)[:40],
                "error_message": refusal.message[:500],
                "sent_by": data.requested_by,
                "occurred_at": now,
                "failed_at": now,
            }
        )


def _opted_out() -> SendRefused:
    return SendRefused(kinds.LEAD_OPTED_OUT, "the lead has opted out of WhatsApp messages; nothing was sent")


def _never_reached_provider(error: WhatsAppSendError) -> bool:
    """True when the message certainly did not go out: the provider answered with an error, or no connection was
    made. A timeout or a connection lost mid-request may have delivered it: the row then stays `sending`."""
    return error.http_status is not None or isinstance(error.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


def _finished(row: OutboxMessage) -> SendWhatsAppResult | None:
    """The first send's result when the row holds one (stored by the activity or reconciled by a webhook)."""
    if row.state != "sent" or not row.provider_message_id or not row.message_id:
        return None
    return SendWhatsAppResult(
        provider_message_id=row.provider_message_id,
        message_id=str(row.message_id),
        mode=str(row.payload.get("_mode", "text")),
        template=row.payload.get("_template"),
        duplicate=True,
    )


def _payload(data: SendWhatsAppInput, provider: WhatsAppProvider, plan: _Plan) -> dict[str, Any]:
    """The row's payload for an attempt: the input plus what a webhook needs to store the message (`store_accepted`)."""
    return {
        **data.model_dump(mode="json"),
        "_mode": plan.mode.value,
        "_template": plan.template,
        "_provider": provider.name,
        "_reconcilable": bool(getattr(provider, "echoes_callback_data", False)),
    }


async def store_accepted(
    session: AsyncSession,
    *,
    row: OutboxMessage,
    lead: Lead,
    provider_name: str,
    provider_message_id: str,
    then: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> uuid.UUID:
    """Record a send the provider accepted: its message in the conversation, the row `sent`, the timeline; `then`
    (given the message's id) adds the caller's writes before the conversation row is updated, last.

    Called by the send activity with the provider's answer, or by the status webhook for a row left `sending` (its
    `biz_opaque_callback_data` named the row). The caller holds the row lock and commits. The conversation row, which
    the lead's replies update as well, is updated last: a reply handled meanwhile waits only for the commit.
    """
    data = SendWhatsAppInput.model_validate(row.payload)
    mode = SendMode(str(row.payload.get("_mode", SendMode.TEXT.value)))
    template = row.payload.get("_template")
    now = datetime.now(tz=UTC)
    body = data.text or "" if mode is SendMode.TEXT else f"[template {template}]"
    conversations = ConversationRepository(session)
    conversation_id, record_last = await conversations.outbound_target(
        tenant_id=lead.tenant_id, lead_id=lead.id, channel="whatsapp", at=now, preview=body
    )
    messages = MessageRepository(session)
    message_id = await messages.insert_once(
        {
            "tenant_id": lead.tenant_id,
            "conversation_id": conversation_id,
            "lead_id": lead.id,
            "direction": "outbound",
            "kind": mode.value,
            "body": body,
            "template": template if mode is SendMode.TEMPLATE else None,
            "provider": provider_name,
            "provider_message_id": provider_message_id,
            "status": "pending",
            "sent_by": data.requested_by,
            "occurred_at": now,
        }
    )
    if message_id is None:  # the provider handed back an id we already hold: the same send, seen again
        existing = await messages.get_by_provider_id(tenant_id=lead.tenant_id, provider_message_id=provider_message_id)
        assert existing is not None
        message_id = existing.id
    await OutboxRepository(session).mark_sent(
        outbox_id=row.id, provider_message_id=provider_message_id, message_id=message_id
    )
    await _apply_early_statuses(session, lead.tenant_id, provider_message_id)
    await _record(
        session,
        lead,
        data,
        "whatsapp_sent",
        {"body": body, "mode": mode.value, "provider_message_id": provider_message_id},
    )
    if then is not None:
        await then(message_id)
    if record_last:
        await conversations.record_outbound(conversation_id=conversation_id, at=now, preview=body)
    return message_id


async def _apply_early_statuses(session: AsyncSession, tenant_id: uuid.UUID, provider_message_id: str) -> None:
    """Status webhooks can outrun this commit; the events were stored, so apply them now (this tenant's only)."""
    # In the order a message lives them.
    keys = {status: status_key(provider_message_id, status) for status in ("sent", "delivered", "read", "failed")}
    providers = ("cloud", "evolution")
    found = await WebhookEventRepository(session).find(
        providers=providers, tenant_id=tenant_id, provider_event_ids=list(keys.values())
    )
    messages = MessageRepository(session)
    for status, key in keys.items():
        for provider in providers:
            stored = found.get((provider, key))
            if stored is None:
                continue
            event = stored.payload.get("event", {})
            await messages.apply_status(
                tenant_id=tenant_id,
                provider_message_id=provider_message_id,
                status=status,
                at=datetime.fromisoformat(event.get("timestamp")) if event.get("timestamp") else stored.received_at,
                error_code=event.get("error_code"),
                error_message=event.get("error_title"),
            )


async def _check_conversation_not_moved_on(
    session: AsyncSession, lead: Lead, read_at: datetime
) -> tuple[datetime | None, datetime | None]:
    """An AI reply written for the conversation as stored up to `read_at`: refused once a person took the
    conversation over or a message of the lead was stored after it; deferred while one received after it waits in the
    webhook inbox (handled, it is one of those). One statement, so one snapshot: the dispatcher records a message before
    it marks its inbox row handled, so the read sees it stored, waiting, or both. Answers the lead's inbound state
    (opted out at, last inbound at) read with it."""
    state = await ConversationRepository(session).reply_state(
        tenant_id=lead.tenant_id, lead_id=lead.id, phone=lead.phone, written_at=read_at
    )
    if state.taken_over or state.wrote_since:
        raise SendRefused(
            kinds.CONVERSATION_MOVED_ON,
            "the lead wrote again, or a person took the conversation over, after this reply was written; nothing was "
            "sent (the newer message is answered on its own)",
            failed_send=False,
        )
    if state.waiting:
        raise SendDeferred(
            "a message from the lead is stored but not handled yet; the reply waits to see whether it was overtaken",
            retry_after_seconds=INBOUND_WAIT_RETRY_SECONDS,
        )
    return state.opted_out_at, state.last_inbound_at


async def _record(
    session: AsyncSession, lead: Lead, data: SendWhatsAppInput, kind: str, extra: dict[str, str | None]
) -> None:
    await TimelineRepository(session).record(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        kind=kind,
        actor=data.requested_by,
        data={"step": data.step, **extra},
        idempotency_key=f"{data.idempotency_key}:{kind}",
    )

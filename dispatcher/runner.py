"""The dispatch loop: claim inbox events, hand each to its provider's handler, record the outcome.

Claims are short transactions (`FOR UPDATE SKIP LOCKED`, then a lease), so dispatchers never wait for each other and
a dispatcher that dies mid-event leaves it to be claimed again once its lease passes: delivery into the workflows is
at least once, and the handlers are idempotent (webhook_event, message and timeline keys), so it counts once.
The claim never returns an event while an earlier one of the same person is open, so per person the provider's
order holds; up to `inbox_concurrency` people's events run at once. A dispatcher claims only the providers it has
handlers for.

Runs: with each person's earliest open event the claim takes the person's next due ones (up to
`inbox_run_max_events` in all), which a backlog or a chatty lead leaves back to back. A channel with a run handler
(`handle_run`) stores a run in one transaction and tells the lead's workflow with one signal; the others get its
events one by one. A run that fails other than by an outage is handled again one event at a time, so a poison event
is singled out and parked as before; the events behind a failed one go back in line behind it.

Wake-ups: `LISTEN webhook_inbox` (the table's insert trigger notifies), a finished event (its person's next event
may now be claimed), and a slow poll as the fallback (a lost connection, events waiting out a retry delay).

Failures: an outage (database, Temporal, a provider answering 503) puts the event back after a short delay without
counting; anything else counts as an attempt, and the `inbox_max_attempts`-th parks the event with its error for a
system admin. A parked event no longer holds back the person's later events.

Metrics (dispatcher/metrics.py): each event's outcome and lag, each claim's size, the events in flight, and the
inbox's open backlog, read at most every `BACKLOG_EVERY_SECONDS`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from channels.channel import InboundHandler, RunInboundHandler
from channels.voice.callbacks import VoiceInbound
from channels.voice.live import LiveCalls
from channels.voice.slots import SlotWaker, call_capacity
from channels.whatsapp.inbound import WhatsAppInbound
from core import log_context
from core.config import Settings
from core.db import async_url
from core.errors import ServiceUnavailable
from core.live_events import LiveEvents
from core.redis import Keys, create_redis
from dispatcher import metrics
from dispatcher.arrivals import ArrivalRate
from models import WebhookInbox
from repositories.webhook_inbox import WebhookInboxRepository

log = logging.getLogger(__name__)

CHANNEL = "webhook_inbox"
# The LISTEN connection's name in pg_stat_activity: how `./run up` sees that a dispatcher is listening.
LISTENER_APPLICATION_NAME = "leadflow-dispatcher"
OUTAGE_RETRY_DELAY = timedelta(seconds=3)
PRUNE_EVERY_SECONDS = 600.0
OUTAGES: tuple[type[BaseException], ...] = (
    ServiceUnavailable,
    OperationalError,
    DBAPIError,
    psycopg.OperationalError,
    RPCError,
    OSError,
    TimeoutError,
)

Handler = Callable[[WebhookInbox], Awaitable[None]]
# One person's consecutive events of one provider, in order: all handled, or an exception and none counts as handled.
RunHandler = Callable[[Sequence[WebhookInbox]], Awaitable[None]]


def attempt_delay(attempts: int) -> timedelta:
    """Exponential from 1 s, at most a minute: a poison event costs little while it waits to be parked."""
    return timedelta(seconds=min(60, 2 ** max(0, attempts - 1)))


class InboxDispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        temporal: Client,
        handlers: Mapping[str, Handler] | None = None,
        run_handlers: Mapping[str, RunHandler] | None = None,
        live: LiveEvents | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.temporal = temporal
        # Tells open inboxes what an event changed; a Redis client of the dispatcher's own unless one is given.
        self._owns_live = live is None
        self.live = live or LiveEvents.for_settings(settings)
        # Live call state (channels/voice/live.py), on a Redis client of the dispatcher's own.
        self._calls_redis = create_redis(settings) if settings.redis_url else None
        self.live_calls = LiveCalls(self._calls_redis, Keys(settings.redis_prefix)) if self._calls_redis else None
        # Call slots, freed as soon as Twilio reports a call over (channels/voice/slots.py).
        self.call_slots = SlotWaker(call_capacity(self._calls_redis, settings), temporal) if self._calls_redis else None
        channels = [] if handlers else self._channels()
        self.handlers: Mapping[str, Handler] = handlers or {
            provider: channel.handle for channel in channels for provider in channel.inbox_providers
        }
        self.run_handlers: Mapping[str, RunHandler] = run_handlers or {
            provider: channel.handle_run
            for channel in channels
            if isinstance(channel, RunInboundHandler)
            for provider in channel.inbox_providers
        }
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        # Handled events not yet marked done: written in one statement before the next claim.
        self._handled: list[int] = []
        self._next_prune = 0.0
        self._next_backlog = 0.0
        self._claim_batch = max(1, min(settings.inbox_concurrency, settings.inbox_batch_size) // 4)
        self.arrivals = ArrivalRate()
        self._next_burst_claim = 0.0
        self._pouring_since: float | None = None
        self._burst_timer: asyncio.TimerHandle | None = None

    def _channels(self) -> list[InboundHandler]:
        """Every channel's inbound side; each names the inbox providers it reads."""
        return [
            WhatsAppInbound(
                session_factory=self.session_factory, temporal=self.temporal, settings=self.settings, live=self.live
            ),
            VoiceInbound(
                session_factory=self.session_factory,
                temporal=self.temporal,
                live=self.live_calls,
                slots=self.call_slots,
            ),
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set, then let the events in hand finish."""
        listener = asyncio.create_task(self._listen(stop), name="inbox-listen")
        try:
            while not stop.is_set():
                self._wake.clear()
                await self._mark_handled()
                await self._read_backlog_now_and_then()
                claimed = await self._claim_free_slots()
                if claimed:
                    continue  # there may be more waiting
                await self._wait_for_wake(stop)
                await self._prune_now_and_then()
        finally:
            listener.cancel()
            if self._burst_timer is not None:
                self._burst_timer.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.settings.inbox_lease_seconds)
            await self._mark_handled()
            if self._owns_live:
                await self.live.aclose()
            if self._calls_redis is not None:
                await self._calls_redis.aclose()

    async def _wait_for_wake(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=self.settings.inbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def yielding(self) -> bool:
        """Webhooks pour in: above `inbox_yield_above_per_second`, this dispatcher takes at most
        `inbox_rate_under_burst` events a second. Acknowledging a webhook is what the provider waits for; everything a
        handled event sets off (the database, Temporal, the worker) competes with it for the CPU, so during a burst
        the backlog grows (it is stored) and drains at full concurrency after. Pouring in for longer than
        `inbox_yield_max_seconds` is sustained load: full concurrency again until the rate falls."""
        threshold = self.settings.inbox_yield_above_per_second
        if threshold <= 0 or self.arrivals.per_second() <= threshold:
            self._pouring_since = None
        elif self._pouring_since is None:
            self._pouring_since = time.monotonic()
        yielding = (
            self._pouring_since is not None
            and time.monotonic() - self._pouring_since < self.settings.inbox_yield_max_seconds
        )
        metrics.YIELDING.set(1 if yielding else 0)
        return yielding

    def _claimable_under_burst(self) -> int:
        """How many events the burst's rate lets this dispatcher take now; a wake-up is set for the next one."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._next_burst_claim:
            return 1
        if self._burst_timer is None or self._burst_timer.when() <= now:
            self._burst_timer = loop.call_at(self._next_burst_claim, self._wake.set)
        return 0

    async def _claim_free_slots(self) -> int:
        yielding = self.yielding()
        free = min(self.settings.inbox_concurrency - len(self._tasks), self.settings.inbox_batch_size)
        if yielding:
            free = min(free, self._claimable_under_burst())
            if free <= 0:
                return 0
        # Busy, claim in batches: each claim walks the open events, so one per finished event would cost more than
        # the events themselves during a burst. Idle or nearly so, claim at once (a person's next event waits for none).
        elif free <= 0 or (self._tasks and free < self._claim_batch):
            return 0
        try:
            async with self.session_factory() as session:
                runs = await WebhookInboxRepository(session).claim_runs(
                    providers=list(self.handlers),
                    limit=free,
                    per_person=self.settings.inbox_run_max_events,
                    lease=timedelta(seconds=self.settings.inbox_lease_seconds),
                )
                await session.commit()
        except OUTAGES as exc:
            log.warning("claiming inbox events failed (retrying at the next wake-up): %s", exc)
            return 0
        events = sum(len(run) for run in runs)
        if events:
            metrics.CLAIM_BATCH.observe(events)
            if yielding:
                pause = events / self.settings.inbox_rate_under_burst
                self._next_burst_claim = asyncio.get_running_loop().time() + pause
        for run in runs:
            task = asyncio.create_task(self._handle_run(run), name=f"inbox-{run[0].id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        metrics.IN_FLIGHT.set(len(self._tasks))
        return len(runs)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        metrics.IN_FLIGHT.set(len(self._tasks))
        self._wake.set()  # a slot is free, and this person's next event may now be claimed

    async def _handle_run(self, run: list[WebhookInbox]) -> None:
        """A run through its channel's run handler; one event at a time without one, or when the run failed."""
        head = run[0]
        handle_run = self.run_handlers.get(head.provider)
        if len(run) > 1 and handle_run is not None:
            with log_context.bound(request_id=f"inbox-{head.id}+{len(run) - 1}", tenant_id=head.tenant_id):
                try:
                    await handle_run(run)
                except OUTAGES as exc:
                    log.warning("inbox events %s..%s wait for an outage to pass: %s", head.id, run[-1].id, exc)
                    await self._put_back(run, error=_describe(exc), delay=OUTAGE_RETRY_DELAY)
                    metrics.EVENTS.labels(head.provider, "outage").inc(len(run))
                    return
                except Exception:
                    log.warning("inbox events %s..%s failed together; handling them one by one", head.id, run[-1].id)
                else:
                    for row in run:
                        self._done(row)
                    return
        for place, row in enumerate(run):
            with log_context.bound(request_id=f"inbox-{row.id}", tenant_id=row.tenant_id):
                handled = await self._handle_bound(row)
            if not handled:
                await self._put_back(run[place + 1 :])  # they wait behind the failed one, in order
                return

    async def _handle_bound(self, row: WebhookInbox) -> bool:
        """One event through its handler; whether it was handled (otherwise it is back in line, or parked)."""
        try:
            await self.handlers[row.provider](row)
        except OUTAGES as exc:
            log.warning("inbox event %s (%s) waits for an outage to pass: %s", row.id, row.event_key, exc)
            await self._retry(row, error=_describe(exc), delay=OUTAGE_RETRY_DELAY, park_after=None)
            metrics.EVENTS.labels(row.provider, "outage").inc()
            return False
        except Exception as exc:
            log.exception("inbox event %s (%s) failed", row.id, row.event_key)
            delay = attempt_delay(row.attempts + 1)
            state = await self._retry(
                row, error=_describe(exc), delay=delay, park_after=self.settings.inbox_max_attempts
            )
            metrics.EVENTS.labels(row.provider, "parked" if state == "parked" else "retried").inc()
            return False
        self._done(row)
        return True

    def _done(self, row: WebhookInbox) -> None:
        self._handled.append(row.id)
        metrics.EVENTS.labels(row.provider, "handled").inc()
        metrics.LAG.labels(row.provider).observe(max(0.0, (datetime.now(UTC) - row.received_at).total_seconds()))

    async def _put_back(
        self, rows: Sequence[WebhookInbox], *, error: str | None = None, delay: timedelta | None = None
    ) -> None:
        """Claimed events back in line without counting an attempt; if even that fails, their lease runs out."""
        if not rows:
            return
        try:
            async with self.session_factory() as session:
                await WebhookInboxRepository(session).release(
                    inbox_ids=[row.id for row in rows], error=error, delay=delay
                )
                await session.commit()
        except Exception as exc:
            log.warning("putting %d inbox events back in line failed (their lease runs out): %s", len(rows), exc)

    async def _mark_handled(self) -> None:
        """Mark the handled events done, all in one statement. Until then they hold back their person's next event;
        if this fails they stay claimed until their lease passes and are handled again (harmlessly)."""
        if not self._handled:
            return
        handled, self._handled = self._handled, []
        try:
            async with self.session_factory() as session:
                await WebhookInboxRepository(session).mark_done(inbox_ids=handled)
                await session.commit()
        except OUTAGES as exc:
            log.warning("marking %d inbox events done failed: %s", len(handled), exc)

    async def _retry(self, row: WebhookInbox, *, error: str, delay: timedelta, park_after: int | None) -> object:
        """The event back in line (or parked); its new state, None when that could not be stored."""
        return await self._record(
            row, lambda repo: repo.retry_later(inbox_id=row.id, error=error, delay=delay, park_after=park_after)
        )

    async def _record(self, row: WebhookInbox, write: Callable[[WebhookInboxRepository], Awaitable[object]]) -> object:
        """Store the outcome; if even that fails, the lease runs out and the event is handled again (idempotent)."""
        try:
            async with self.session_factory() as session:
                written = await write(WebhookInboxRepository(session))
                await session.commit()
                return written
        except Exception as exc:
            log.warning("recording the outcome of inbox event %s failed: %s", row.id, exc)
            return None

    async def _listen(self, stop: asyncio.Event) -> None:
        """Hold a LISTEN connection, re-opening it after a failure; each notification wakes the loop."""
        conninfo = async_url(self.settings.require_database_url()).replace("postgresql+psycopg://", "postgresql://")
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True, application_name=LISTENER_APPLICATION_NAME
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._wake.set()  # events may have arrived while nobody listened
                    async for _ in conn.notifies():
                        self.arrivals.note()
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("inbox LISTEN connection lost (the poll covers meanwhile): %s", exc)
                await asyncio.sleep(self.settings.inbox_poll_seconds)

    async def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_SECONDS
        try:
            async with self.session_factory() as session:
                pruned = await WebhookInboxRepository(session).prune_handled(
                    older_than=timedelta(hours=self.settings.inbox_retention_hours)
                )
                await session.commit()
            if pruned:
                log.info("pruned %d handled inbox events", pruned)
        except OUTAGES as exc:
            log.warning("pruning the inbox failed: %s", exc)

    async def _read_backlog_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_backlog:
            return
        self._next_backlog = now + metrics.BACKLOG_EVERY_SECONDS
        try:
            async with self.session_factory() as session:
                count, oldest = await WebhookInboxRepository(session).open_backlog()
        except OUTAGES as exc:
            log.warning("reading the inbox backlog failed: %s", exc)
            return
        metrics.OPEN_EVENTS.set(count)
        metrics.OLDEST_OPEN_AGE.set(0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds()))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

"""The scheduled-send drain: sequence sends written ahead (models/scheduled_send.py) go out when they fall due,
without waking their enrollments' workflows.

Runs in every worker process that polls the bulk queue. It claims due rows in batches, tenants taking turns
(repositories/scheduled_sends.py), and sends each as the `sequence.send_message` activity does: the daily-cap slot,
the outbox (effectively once, the stop record, the 24-hour window, pacing), then the step rows and the enrollment
row as its workflow will have them when it next wakes. Its outcome goes on the row. The workflow reads it when it
wakes at its next step; an outcome that changes what the workflow does next (a refusal, a cap deferral, a pause) or
a send the workflow asked to hear of at once also signals it (`scheduled_send_settled`); the row keeps `signal_due`
until the signal went out, so a drain that died before it, or a Temporal that was away, delays it but never loses
it.

Failures are handled as the activity's retry policy handles them: a throttled send (pacing, the provider's 429, an
unconfirmed earlier attempt) is put back for the delay the error names, with SEQUENCE_SEND's backoff otherwise, and
fails for good only after SEQUENCE_SEND's schedule-to-close timeout; an unreachable database or provider is retried
the same way. A drain that dies holding rows leaves them to the next claim once their lease runs out; the outbox key
keeps the second attempt from sending twice. Rows no workflow reads again (their enrollment ended, or taken back long
ago) are dropped after `LEADFLOW_SCHEDULED_SEND_RETENTION_HOURS`.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.sequences import SequenceActivities
from core.queues import SEQUENCE_SEND, WHATSAPP_SEND_RETRY
from domain.whatsapp_messages import ENROLLMENT_PAUSED
from models import ScheduledSend
from repositories.scheduled_sends import ScheduledSendRepository
from workflows.sequence_types import (
    SCHEDULED_SEND_SETTLED_SIGNAL,
    DueSend,
    DueSendResult,
    ScheduledSendOutcome,
    ScheduledSendState,
    SendFailure,
)

log = logging.getLogger(__name__)

# A settled send's signal that has not gone out this long after is sent again (by any drain), checked this often.
SIGNAL_GRACE = timedelta(seconds=10)
SIGNAL_CHECK_SECONDS = 5.0
# Rows no workflow reads again are dropped this often, this many per statement.
PRUNE_EVERY_SECONDS = 600.0
PRUNE_BATCH = 1000
# A claimed row is this drain's for this long; a send takes seconds (pacing, the provider's answer).
LEASE = timedelta(minutes=2)
# A drain claims again once this share of its concurrency is free (or nothing is under way).
CLAIM_SHARE = 4
# With nothing due, look again after this long: the lateness of a send that falls due while the drain is idle.
IDLE_POLL_SECONDS = 0.25
# After a failed claim (the database away), wait this long before the next.
CLAIM_RETRY_SECONDS = 1.0
# How long a throttled send keeps trying before its step is recorded failed: as the activity's own limit.
GIVE_UP_AFTER = SEQUENCE_SEND["schedule_to_close_timeout"]


class ScheduledSendDrain:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        sequences: SequenceActivities,
        client: Client,
        concurrency: int,
        retention: timedelta,
    ) -> None:
        self._sessions = session_factory
        self._sequences = sequences
        self._client = client
        self._concurrency = concurrency
        self._retention = retention
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Claim and send until `stop()`; sends under way then finish (or are cancelled with the task)."""
        loop = asyncio.get_running_loop()
        signals_checked = loop.time()
        pruned = loop.time() - PRUNE_EVERY_SECONDS  # once at start, then now and then
        while not self._stopping.is_set():
            if loop.time() - signals_checked > SIGNAL_CHECK_SECONDS:
                signals_checked = loop.time()
                try:
                    await self._tell_overdue()
                except Exception:  # the database away: next time
                    log.exception("sending overdue scheduled-send signals failed")
            if loop.time() - pruned >= PRUNE_EVERY_SECONDS:
                # One batch between claims; a full batch leaves more, pruned at the next turn.
                pruned = loop.time() if not await self._prune() else pruned
            free = self._concurrency - len(self._in_flight)
            if self._in_flight and free < max(1, self._concurrency // CLAIM_SHARE):
                # Claims in batches: a claim ranks every due row by tenant, so one per finished send would cost the
                # database more than the sends.
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                claimed = await self._claim(free)
            except Exception:  # the database away: the rows wait, the drain tries again
                log.exception("claiming scheduled sends failed")
                await self._pause(CLAIM_RETRY_SECONDS)
                continue
            for row in claimed:
                task = asyncio.create_task(self._send(row), name=f"scheduled send {row.key}")
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if len(claimed) < free:
                await self._pause(IDLE_POLL_SECONDS)  # all that is due is under way
        if self._in_flight:
            await asyncio.wait(self._in_flight)

    def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _claim(self, limit: int) -> list[ScheduledSend]:
        async with self._sessions() as session, session.begin():
            return await ScheduledSendRepository(session).claim(limit=limit, lease=LEASE)

    async def _send(self, row: ScheduledSend) -> None:
        try:
            outcome = await self._outcome(row)
        except Exception as err:  # the database or the provider away: the same send again later
            log.warning("scheduled send %s failed, trying again: %s", row.key, err)
            await self._put_back(row, _backoff(row.attempts))
            return
        if outcome is None:
            return  # put back for later
        settled = outcome.state is ScheduledSendState.SENT  # stored with the step rows (`_outcome`)
        if not settled:
            try:
                async with self._sessions() as session, session.begin():
                    settled = await self._settle(session, row, outcome)
            except Exception:  # the lease runs out and a later claim settles it (the outbox answers the same send)
                log.exception("storing the outcome of scheduled send %s failed", row.key)
                return
        if settled and _signals(row, outcome):
            await self._tell(row, outcome)

    @staticmethod
    async def _settle(session: AsyncSession, row: ScheduledSend, outcome: ScheduledSendOutcome) -> bool:
        return await ScheduledSendRepository(session).settle(
            send_id=row.id, outcome=outcome.model_dump(mode="json"), signal=_signals(row, outcome)
        )

    async def _outcome(self, row: ScheduledSend) -> ScheduledSendOutcome | None:
        """What became of the send, or None when it was put back to try again."""
        now = datetime.now(UTC)
        due = _as_sent_now(DueSend.model_validate(row.due), now)
        sent: list[ScheduledSendOutcome] = []

        async def settle_sent(session: AsyncSession, result: DueSendResult) -> None:
            # In the transaction of the step rows: the send and its outcome are stored together.
            outcome = ScheduledSendOutcome(
                key=row.key, state=ScheduledSendState.SENT, result=result.model_copy(update={"fired_at": now})
            )
            # Run again when its transaction did not commit (the database away): the last try's outcome counts.
            if await self._settle(session, row, outcome):
                sent[:] = [outcome]

        try:
            result = await self._sequences.send_due(due, also=settle_sent, counted_again=True)
        except ApplicationError as err:
            if err.type == ENROLLMENT_PAUSED:
                return ScheduledSendOutcome(key=row.key, state=ScheduledSendState.HELD)
            if not err.non_retryable and now - (row.first_due_at or row.due_at) < GIVE_UP_AFTER:
                delay = err.next_retry_delay or _backoff(row.attempts)
                await self._put_back(row, delay)
                return None
            failure = SendFailure(kind=err.type, message=err.message, details=_first_mapping(err.details))
            return ScheduledSendOutcome(key=row.key, state=ScheduledSendState.FAILED, failure=failure)
        if result.deferred is not None:
            return ScheduledSendOutcome(key=row.key, state=ScheduledSendState.DEFERRED, result=result)
        if not sent:
            return None  # another attempt holds the row now (this one's lease ran out): its outcome is stored there
        return sent[0]

    async def _put_back(self, row: ScheduledSend, delay: timedelta) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await ScheduledSendRepository(session).put_back(send_id=row.id, delay=delay)
        except Exception:  # still away: the lease runs out and a later claim takes the row again
            log.exception("putting back scheduled send %s failed", row.key)

    async def _prune(self) -> bool:
        """Drop a batch of the rows no workflow reads again, kept `retention` for the curious; True: more are left."""
        try:
            async with self._sessions() as session, session.begin():
                dropped = await ScheduledSendRepository(session).prune(keep=self._retention, limit=PRUNE_BATCH)
        except Exception:  # the database away: next time
            log.exception("pruning scheduled sends failed")
            return False
        if dropped:
            log.info("pruned %d scheduled sends", dropped)
        return dropped == PRUNE_BATCH

    async def _tell(self, row: ScheduledSend, outcome: ScheduledSendOutcome) -> None:
        """Wake the workflow; once it heard (or has ended), the row no longer asks for it. A signal that fails stays
        due on the row, and `_tell_overdue` of this or another drain sends it again."""
        try:
            await self._client.get_workflow_handle(row.workflow_id).signal(SCHEDULED_SEND_SETTLED_SIGNAL, outcome)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # an ended enrollment needs no telling
                log.warning("could not tell %s its scheduled send settled: %s", row.workflow_id, err)
                return
        try:
            async with self._sessions() as session, session.begin():
                await ScheduledSendRepository(session).signalled(send_id=row.id)
        except Exception:  # told twice later, which the workflow ignores
            log.exception("could not record the signal of scheduled send %s", row.key)

    async def _tell_overdue(self) -> None:
        """Signal the workflows of sends settled a while ago whose signal never went out (their drain died, or
        Temporal was away)."""
        async with self._sessions() as session:
            rows = await ScheduledSendRepository(session).signals_due(settled_before=SIGNAL_GRACE, limit=100)
        for row in rows:
            if row.outcome is not None:
                await self._tell(row, ScheduledSendOutcome.model_validate(row.outcome))


def _signals(row: ScheduledSend, outcome: ScheduledSendOutcome) -> bool:
    """Whether the workflow is told of this outcome: one that changes its course, or one it asked to hear of."""
    return outcome.state != ScheduledSendState.SENT or row.signal_when_settled


def _as_sent_now(due: DueSend, now: datetime) -> DueSend:
    """The due send as it goes out now: its step fires now and its cap slot is taken on the day it goes out."""
    reservation = due.reservation.model_copy(update={"at": now}) if due.reservation is not None else None
    sent_step = due.sent_step.model_copy(update={"fired_at": now})
    return due.model_copy(update={"sent_step": sent_step, "reservation": reservation})


def _backoff(attempts: int) -> timedelta:
    """SEQUENCE_SEND's retry delays: 1 s doubling, at most 5 minutes."""
    policy = WHATSAPP_SEND_RETRY
    first = policy.initial_interval.total_seconds()
    most = policy.maximum_interval.total_seconds() if policy.maximum_interval else first
    return timedelta(seconds=min(most, first * policy.backoff_coefficient ** max(0, attempts - 1)))


def _first_mapping(details: Any) -> dict[str, Any] | None:
    first = details[0] if details else None
    return first if isinstance(first, dict) else None

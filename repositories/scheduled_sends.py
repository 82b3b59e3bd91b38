"""SQL for scheduled sequence sends: write ahead (again after a cancel), fair batch claims, settle, take back, prune."""

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert

from models import ScheduledSend
from repositories.base import Repository

# Outcomes after which the same step execution is written ahead again: a cap deferral (the next day) and a pause
# (after the resume). The outbox key is the same; nothing went out the first time.
NOT_SENT_AGAIN = ("deferred", "held")
# A row whose lease ran out this long ago is its workflow's to take back: its drain is gone, not merely slow.
TAKE_BACK_AFTER_LAPSE = timedelta(minutes=2)

# Due rows (and rows whose drain's lease ran out), each tenant's oldest first, tenants taking turns: the first row of
# every tenant, then the second of every tenant, ... so one tenant's burst never holds back another tenant's send.
# A row another drain claimed meanwhile fails the outer condition when its lock is released, and is skipped.
# Its commit does not wait for the WAL flush (`synchronous_commit` off, set by the statement itself): a claim lost in
# a crash only leaves its rows to be claimed again (a send commits its outbox row durably before the provider hears of
# it, which flushes the claim before it), and the outbox key keeps a second claim's send to one. A drain claims many
# times a second in a burst, and each flush waited for queues every other commit (a reply's stop) behind it.
_CLAIM = text(
    """
    WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true))
    UPDATE scheduled_send SET state = 'sending', attempts = attempts + 1,
        lease_until = now() + make_interval(secs => :lease_seconds)
    WHERE id IN (
        SELECT id FROM (
            SELECT s.id, row_number() OVER (PARTITION BY s.tenant_id ORDER BY s.due_at, s.id) AS turn, s.due_at
            FROM scheduled_send s
            WHERE (s.state = 'scheduled' AND s.due_at <= now())
               OR (s.state = 'sending' AND s.lease_until < now())
        ) due
        ORDER BY turn, due_at
        LIMIT :limit)
      AND ((state = 'scheduled' AND due_at <= now()) OR (state = 'sending' AND lease_until < now()))
      AND EXISTS (SELECT FROM commit_mode)
    RETURNING scheduled_send.*
    """
)

# Built once on the Core table: every send the drain makes settles its row.
_SENDS = cast(Table, ScheduledSend.__table__)
_SETTLE = (
    update(_SENDS)
    .where(_SENDS.c.id == bindparam("send_id"), _SENDS.c.state == "sending")
    .values(
        state="done",
        outcome=bindparam("settled_outcome", type_=JSONB),
        settled_at=func.now(),
        lease_until=None,
        signal_due=bindparam("signal"),
    )
    .returning(_SENDS.c.id)
)


# Rows no workflow reads again, a batch at a time: those of enrollments that ended `keep` ago, and sends taken back
# that were due `keep` ago (written ahead again, a send inserts a new row). A row whose signal is still due stays.
# Rows locked elsewhere (a claim, a take-back, a send written ahead again) are skipped, and a row changed meanwhile is
# tested again by the outer condition.
_PRUNE = text(
    """
    DELETE FROM scheduled_send WHERE id IN (
        SELECT s.id FROM scheduled_send s JOIN enrollment e ON e.id = s.enrollment_id
        WHERE s.state IN ('done', 'cancelled') AND NOT s.signal_due
          AND (e.ended_at < now() - make_interval(secs => :keep_seconds)
               OR (s.state = 'cancelled' AND s.due_at < now() - make_interval(secs => :keep_seconds)))
        LIMIT :limit
        FOR UPDATE OF s SKIP LOCKED)
      AND state IN ('done', 'cancelled') AND NOT signal_due
    """
)


class ScheduledSendRepository(Repository[ScheduledSend]):
    model = ScheduledSend

    async def schedule(
        self,
        *,
        tenant_id: uuid.UUID,
        enrollment_id: uuid.UUID,
        workflow_id: str,
        key: str,
        due_at: datetime,
        due: dict[str, Any],
        signal_when_settled: bool,
    ) -> str:
        """Write the send ahead; a row of this key that was cancelled, deferred by the cap or held by a pause is
        scheduled again (the same step planned anew). Returns the row's state afterwards: `scheduled`, or the state
        of a row already claimed or done (a retried activity whose first attempt wrote it)."""
        table = cast(Table, ScheduledSend.__table__)
        values = {
            "tenant_id": tenant_id,
            "enrollment_id": enrollment_id,
            "workflow_id": workflow_id,
            "key": key,
            "due_at": due_at,
            "first_due_at": due_at,
            "due": due,
            "signal_when_settled": signal_when_settled,
            "state": "scheduled",
        }
        inserting = insert(table).values(id=uuid.uuid4(), **values)
        statement = inserting.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "due_at": inserting.excluded.due_at,
                "first_due_at": inserting.excluded.due_at,
                "attempts": 0,
                "due": inserting.excluded.due,
                "signal_when_settled": inserting.excluded.signal_when_settled,
                "state": "scheduled",
                "outcome": None,
                "settled_at": None,
                "lease_until": None,
            },
            where=or_(
                table.c.state.in_(("scheduled", "cancelled")),
                and_(table.c.state == "done", table.c.outcome["state"].astext.in_(NOT_SENT_AGAIN)),
            ),
        ).returning(table.c.state)
        written = (await self.session.execute(statement)).scalar()
        if written is not None:
            return str(written)
        current = await self.session.scalar(select(table.c.state).where(table.c.key == key))
        return str(current)

    async def claim(self, *, limit: int, lease: timedelta) -> list[ScheduledSend]:
        """Up to `limit` due sends, tenants taking turns, each held until `lease` passes (commit to make it visible)."""
        params = {"limit": limit, "lease_seconds": lease.total_seconds()}
        claimed = await self.session.scalars(select(ScheduledSend).from_statement(_CLAIM), params)
        return list(claimed.all())

    async def settle(self, *, send_id: uuid.UUID, outcome: dict[str, Any], signal: bool) -> bool:
        """The drain's outcome, if this attempt still holds the row; `signal`: its workflow is to be told. False: it
        does not hold it (its lease ran out and another attempt took it)."""
        settled = await self.session.execute(
            _SETTLE, {"send_id": send_id, "settled_outcome": outcome, "signal": signal}
        )
        return settled.scalar_one_or_none() is not None

    async def signals_due(self, *, settled_before: timedelta, limit: int) -> list[ScheduledSend]:
        """Settled sends whose workflow was not told yet, settled at least `settled_before` ago (the drain that settled
        them had its time to tell them itself)."""
        found = await self.session.scalars(
            select(ScheduledSend)
            .where(ScheduledSend.signal_due, ScheduledSend.settled_at < func.now() - settled_before)
            .order_by(ScheduledSend.settled_at)
            .limit(limit)
        )
        return list(found.all())

    async def signalled(self, *, send_id: uuid.UUID) -> None:
        await self.session.execute(update(ScheduledSend).where(ScheduledSend.id == send_id).values(signal_due=False))

    async def put_back(self, *, send_id: uuid.UUID, delay: timedelta) -> None:
        """Try again after `delay` (throttled, the provider or the database unreachable)."""
        await self.session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == send_id, ScheduledSend.state == "sending")
            .values(state="scheduled", lease_until=None, due_at=func.now() + delay)
        )

    async def prune(self, *, keep: timedelta, limit: int) -> int:
        """Drop up to `limit` rows no workflow reads again (see `_PRUNE`); how many went."""
        result = await self.session.execute(_PRUNE, {"keep_seconds": keep.total_seconds(), "limit": limit})
        return int(cast(Any, result).rowcount or 0)

    async def take_back(self, *, key: str) -> ScheduledSend | None:
        """The workflow takes its send back: a row still waiting is cancelled, and so is one whose drain's lease ran
        out a while ago (`TAKE_BACK_AFTER_LAPSE`: that drain is gone, and no drain has claimed it again; the workflow
        sends it itself, under the same outbox key, which finds whatever the gone drain did); otherwise the row as it
        is (sending: a drain has it; done: its outcome). None: no such row. Locks the row until the transaction
        ends."""
        found = (
            await self.session.execute(
                select(ScheduledSend, ScheduledSend.lease_until < func.now() - TAKE_BACK_AFTER_LAPSE)
                .where(ScheduledSend.key == key)
                .with_for_update(of=ScheduledSend)
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
        if found is None:
            return None
        row, lapsed = found
        if row.state == "scheduled" or (row.state == "sending" and lapsed):
            row.state = "cancelled"
            await self.session.flush()
        elif row.signal_due:
            row.signal_due = False  # the workflow reads the outcome now: no need to tell it
            await self.session.flush()
        return row

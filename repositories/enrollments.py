"""SQL for enrollments and their step history: create (one at a time or in bulk), read, mirror the workflow's state,
count sends against the daily cap, and the sequence stats the API reads.

`mirror` applies a state only when its revision is newer than the row's, so activities finishing out of order never
roll an enrollment back. `record_step` is idempotent on (enrollment, step execution, outcome).
"""

import builtins
import typing
import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Table, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from models import DailySendCount, Enrollment, EnrollmentStep, SequenceVersion
from models import Sequence as SequenceRow
from repositories.base import Repository
from repositories.jobs import not_in_open_job
from workflows.sequence_types import EXIT_REPLIED, REPLIED_DETAIL, EnrollmentStatus

OPEN_STATUSES = ("active", "paused")
RESERVED = "reserved"
SENT = "sent"
_IN_CHUNK = 5000  # ids per IN (...) list

# Not `:durable`, the statement's own transaction commits without waiting for the WAL flush (see `count_sent_once`),
# set by the statement itself, no round trip more; durable, it keeps the server's setting.
_COUNT_SENT_ONCE = text(
    """
    WITH commit_mode AS (
        SELECT set_config(
            'synchronous_commit', CASE WHEN :durable THEN current_setting('synchronous_commit') ELSE 'off' END, true)),
    marked AS (
        UPDATE enrollment_step SET data = data || '{"counted": true}'::jsonb
        WHERE enrollment_id = :enrollment_id AND number = :number AND result = 'sent'
          AND NOT coalesce((data ->> 'counted')::boolean, false)
          AND EXISTS (SELECT FROM commit_mode)
        RETURNING 1)
    INSERT INTO daily_send_count (tenant_id, channel, day, sent)
    SELECT :tenant_id, :channel, :day, 1 FROM marked
    ON CONFLICT (tenant_id, channel, day) DO UPDATE SET sent = daily_send_count.sent + 1
    RETURNING sent
    """
)
_INSERT_CHUNK = 1000  # rows per INSERT statement (PostgreSQL's 65535 bind parameters)


# A reply's stop, applied in the transaction that stores the reply (the webhook dispatcher): every open enrollment of
# the lead whose row says a reply received after `exits_on_reply_after` ends it is ended now as its workflow will end
# it on the `lead_replied` signal, which may wait behind a burst of bulk work. The revision stays: the workflow's own
# mirror of the end (newer) replaces this one, counts and times included. Built once: it runs for every inbound message.
_ENROLLMENTS = typing.cast(Table, Enrollment.__table__)
_END_ON_REPLY = (
    update(_ENROLLMENTS)
    .where(
        _ENROLLMENTS.c.tenant_id == bindparam("tenant"),
        _ENROLLMENTS.c.lead_id == bindparam("lead"),
        _ENROLLMENTS.c.status.in_(OPEN_STATUSES),
        _ENROLLMENTS.c.exits_on_reply_after < bindparam("received_at", type_=DateTime(timezone=True)),
    )
    .values(
        status=EnrollmentStatus.EXITED.value,
        exit_reason=EXIT_REPLIED,
        exit_detail=REPLIED_DETAIL,
        next_action_at=None,
        ended_at=func.now(),
        exits_on_reply_after=None,
        replies=_ENROLLMENTS.c.replies + 1,
        updated_at=func.now(),
    )
    .returning(_ENROLLMENTS.c.id)
)

# The two writes of every step a workflow mirrors (and of every due send), built once on the Core tables: built per
# call through the ORM, their statements cost the worker more CPU than PostgreSQL spends running them.
_MIRROR = (
    update(_ENROLLMENTS)
    .where(_ENROLLMENTS.c.id == bindparam("mirrored_id"), _ENROLLMENTS.c.revision < bindparam("newer_revision"))
    .values(revision=bindparam("newer_revision"), updated_at=func.now())
    .returning(_ENROLLMENTS.c.id)
)
_STEPS = typing.cast(Table, EnrollmentStep.__table__)
# A person's stop or pause, read by every sequence send before it goes out (channels/whatsapp/outbox.py).
_CONTROL = (
    select(_ENROLLMENTS.c.stop_requested_at, _ENROLLMENTS.c.pause_requested_at, _ENROLLMENTS.c.control_detail)
    .where(_ENROLLMENTS.c.workflow_id == bindparam("workflow"))
    .with_for_update(read=True)
)


def outcome_times(data: Any) -> Any:
    """How many times a step row's outcome happened in its execution (`data.times`; rows without it: once)."""
    return func.coalesce(data["times"].as_integer(), 1)


_STEP_ROW = insert(_STEPS)
_RECORD_STEP = _STEP_ROW.on_conflict_do_update(
    index_elements=[_STEPS.c.enrollment_id, _STEPS.c.number, _STEPS.c.result],
    set_={
        "detail": _STEP_ROW.excluded.detail,
        "planned_at": _STEP_ROW.excluded.planned_at,
        "fired_at": _STEP_ROW.excluded.fired_at,
        "data": _STEP_ROW.excluded.data,
    },
    where=outcome_times(_STEPS.c.data) < outcome_times(_STEP_ROW.excluded.data),
).returning(_STEPS.c.id)


class EnrollmentRepository(Repository[Enrollment]):
    model = Enrollment

    async def get(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID, fresh: bool = False) -> Enrollment | None:
        """`fresh` re-reads a row this session already holds (the workflow's mirror wrote it meanwhile)."""
        return await self.in_tenant(tenant_id=tenant_id, row_id=enrollment_id, fresh=fresh)

    async def open_lead_ids(self, *, sequence_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `lead_ids` already have an active or paused enrollment in the sequence."""
        if not lead_ids:
            return set()
        result = await self.session.execute(
            select(Enrollment.lead_id).where(
                Enrollment.sequence_id == sequence_id,
                Enrollment.lead_id.in_(list(lead_ids)),
                Enrollment.status.in_(OPEN_STATUSES),
            )
        )
        return set(result.scalars())

    async def open_workflow_ids_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> list[str]:
        """The workflow ids of the lead's active or paused enrollments (in any sequence)."""
        result = await self.session.execute(
            select(Enrollment.workflow_id).where(
                Enrollment.tenant_id == tenant_id,
                Enrollment.lead_id == lead_id,
                Enrollment.status.in_(OPEN_STATUSES),
            )
        )
        return list(result.scalars())

    async def get_many(self, *, enrollment_ids: Sequence[uuid.UUID]) -> builtins.list[Enrollment]:
        if not enrollment_ids:
            return []
        return await self._all(select(Enrollment).where(Enrollment.id.in_(list(enrollment_ids))))

    async def mark_workflow_started(self, *, enrollment_ids: Sequence[uuid.UUID]) -> None:
        """Record that the enrollments' workflows are known to run (the first time only)."""
        await self._mark_workflow_started(enrollment_ids)

    async def never_started(self, *, older_than: timedelta, limit: int) -> list[Enrollment]:
        """Active enrollments of any tenant whose workflow was never confirmed started nor ever mirrored a state,
        created before `older_than` ago and no item of an open job (the job starts those), oldest first."""
        return await self._all(
            select(Enrollment)
            .where(
                Enrollment.workflow_started_at.is_(None),
                Enrollment.revision == 0,
                Enrollment.status == "active",
                Enrollment.created_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than.total_seconds()),
                not_in_open_job(Enrollment.tenant_id, Enrollment.id),
            )
            .order_by(Enrollment.created_at)
            .limit(limit)
        )

    async def exists(self, *, enrollment_id: uuid.UUID) -> bool:
        result = await self.session.execute(select(Enrollment.id).where(Enrollment.id == enrollment_id))
        return result.scalar_one_or_none() is not None

    async def mirror(self, *, enrollment_id: uuid.UUID, revision: int, values: dict[str, Any]) -> bool:
        """Write the workflow's state if `revision` is newer than the row's; False when the row is newer or gone."""
        mirrored = await self.session.execute(
            _MIRROR, {**values, "mirrored_id": enrollment_id, "newer_revision": revision}
        )
        return mirrored.scalar_one_or_none() is not None

    async def end_on_reply(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, received_at: datetime) -> list[uuid.UUID]:
        """End the lead's open enrollments that a reply received at `received_at` ends (`exits_on_reply_after`);
        the ids of those ended now."""
        result = await self.session.execute(
            _END_ON_REPLY, {"tenant": tenant_id, "lead": lead_id, "received_at": received_at}
        )
        return list(result.scalars())

    async def request_stop(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID, detail: str) -> datetime | None:
        """Record a person's stop of an open enrollment (the first one only); its time, None when not recorded now."""
        result = await self.session.execute(
            update(Enrollment)
            .where(
                Enrollment.tenant_id == tenant_id,
                Enrollment.id == enrollment_id,
                Enrollment.status.in_(OPEN_STATUSES),
                Enrollment.stop_requested_at.is_(None),
            )
            .values(stop_requested_at=func.now(), control_detail=detail[:500])
            .returning(Enrollment.stop_requested_at)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def request_pause(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID, paused: bool) -> None:
        """Record a person's pause (`paused`) or resume of an enrollment: sends hold from now until a resume."""
        await self.session.execute(
            update(Enrollment)
            .where(Enrollment.tenant_id == tenant_id, Enrollment.id == enrollment_id)
            .values(pause_requested_at=func.now() if paused else None)
            .execution_options(synchronize_session=False)
        )

    async def control_of(self, *, workflow_id: str) -> tuple[datetime | None, datetime | None, str | None] | None:
        """(stop requested at, pause requested at, detail) of the enrollment run by `workflow_id`, locked against a
        concurrent stop or pause until the caller's transaction ends; None when no enrollment runs it."""
        row = (await self.session.execute(_CONTROL, {"workflow": workflow_id})).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    async def record_step(self, values: dict[str, Any]) -> bool:
        """Insert one step outcome; False when the same (enrollment, number, result) is already there.

        An outcome repeated within one step execution (a send deferred again: `data.times` higher than the row's)
        updates the row to the latest occurrence and its count; a retried write of the same occurrence changes nothing.
        """
        recorded = await self.session.execute(_RECORD_STEP, {"id": uuid.uuid4(), **values})
        return recorded.scalar_one_or_none() is not None

    async def has_reservation(self, *, enrollment_id: uuid.UUID, number: int) -> bool:
        result = await self.session.execute(
            select(EnrollmentStep.id).where(
                EnrollmentStep.enrollment_id == enrollment_id,
                EnrollmentStep.number == number,
                EnrollmentStep.result == RESERVED,
            )
        )
        return result.first() is not None

    # The daily cap's counter (models/daily_send_count.py).

    async def take_daily_send(self, *, tenant_id: uuid.UUID, channel: str, day: date, cap: int | None) -> int | None:
        """Count one send on the tenant's `day`; the day's count with it, or None (nothing counted) when `cap` sends
        are counted already. One statement: concurrent sends wait only for each other's row update and commit."""
        row = insert(DailySendCount).values(tenant_id=tenant_id, channel=channel, day=day, sent=1)
        statement = row.on_conflict_do_update(
            index_elements=[DailySendCount.tenant_id, DailySendCount.channel, DailySendCount.day],
            set_={"sent": DailySendCount.sent + 1},
            where=(DailySendCount.sent < cap) if cap is not None else None,
        ).returning(DailySendCount.sent)
        taken = (await self.session.execute(statement)).scalar_one_or_none()
        return None if taken is None else int(taken)

    async def count_sent_once(
        self,
        *,
        tenant_id: uuid.UUID,
        enrollment_id: uuid.UUID,
        number: int,
        channel: str,
        day: date,
        durable: bool = True,
    ) -> bool:
        """Count a `sent` step that took no cap slot against the tenant's `day`, once: one statement marks the step row
        counted and raises the day's count. Run it on its own (autocommit): the tenant-day row, which every send of
        the tenant updates, is then locked only while PostgreSQL runs it, never while a busy client gets round to
        committing. `durable=False`: its commit does not wait for the WAL flush, for a caller that offers the count
        again if a crash lost it (only together with the step's `counted` mark): the flush it would have waited for is
        one fewer ahead of every other commit, a reply's stop among them. True when it counted now."""
        counted = await self.session.execute(_COUNT_SENT_ONCE, {
            "tenant_id": tenant_id, "enrollment_id": enrollment_id, "number": number, "channel": channel, "day": day,
            "durable": durable,
        })  # fmt: skip
        return counted.scalar_one_or_none() is not None

    async def give_back_daily_send(self, *, tenant_id: uuid.UUID, channel: str, day: date) -> None:
        await self.session.execute(
            update(DailySendCount)
            .where(
                DailySendCount.tenant_id == tenant_id,
                DailySendCount.channel == channel,
                DailySendCount.day == day,
                DailySendCount.sent > 0,
            )
            .values(sent=DailySendCount.sent - 1)
        )

    async def daily_sends(self, *, tenant_id: uuid.UUID, channel: str, day: date) -> int:
        result = await self.session.execute(
            select(DailySendCount.sent).where(
                DailySendCount.tenant_id == tenant_id, DailySendCount.channel == channel, DailySendCount.day == day
            )
        )
        return int(result.scalar_one_or_none() or 0)

    # The API's reads and bulk inserts.

    async def open_by_lead(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, lead_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, Enrollment]:
        """lead id -> its active or paused enrollment in this sequence, for the leads that have one."""
        found: dict[uuid.UUID, Enrollment] = {}
        ids = list(lead_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            result = await self.session.execute(
                select(Enrollment).where(
                    Enrollment.tenant_id == tenant_id,
                    Enrollment.sequence_id == sequence_id,
                    Enrollment.lead_id.in_(ids[start : start + _IN_CHUNK]),
                    Enrollment.status.in_(OPEN_STATUSES),
                )
            )
            found.update({e.lead_id: e for e in result.scalars()})
        return found

    async def insert_skip_open(self, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
        """Insert enrollment rows; a lead that already has an open one in the sequence is skipped (the partial unique
        index decides, so two concurrent bulk requests cannot both enroll a lead). Returns the inserted ids."""
        inserted: set[uuid.UUID] = set()
        for start in range(0, len(rows), _INSERT_CHUNK):
            statement = (
                insert(Enrollment)
                .values(list(rows[start : start + _INSERT_CHUNK]))
                .on_conflict_do_nothing(
                    index_elements=[Enrollment.sequence_id, Enrollment.lead_id],
                    index_where=Enrollment.status.in_(OPEN_STATUSES),
                )
                .returning(Enrollment.id)
            )
            inserted.update((await self.session.execute(statement)).scalars())
        return inserted

    async def for_sequence(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, status: str | None, limit: int
    ) -> builtins.list[Enrollment]:
        """Newest first."""
        statement = select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.sequence_id == sequence_id)
        return await self._newest(self._where_given(statement, status=status), limit)

    async def for_lead(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int
    ) -> builtins.list[tuple[Enrollment, str, int]]:
        """The lead's enrollments newest first, each with its sequence's name and the version it runs."""
        result = await self.session.execute(
            select(Enrollment, SequenceRow.name, SequenceVersion.version)
            .join(SequenceRow, SequenceRow.id == Enrollment.sequence_id)
            .join(SequenceVersion, SequenceVersion.id == Enrollment.sequence_version_id)
            .where(Enrollment.tenant_id == tenant_id, Enrollment.lead_id == lead_id)
            .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())
            .limit(limit)
        )
        return [(enrollment, name, version) for enrollment, name, version in result.all()]

    async def steps(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID) -> builtins.list[EnrollmentStep]:
        result = await self.session.execute(
            select(EnrollmentStep)
            .where(EnrollmentStep.tenant_id == tenant_id, EnrollmentStep.enrollment_id == enrollment_id)
            .order_by(EnrollmentStep.number, EnrollmentStep.fired_at, EnrollmentStep.id)
        )
        return list(result.scalars())

    # Sequence stats, straight from the rows the workflows mirror.

    async def status_counts(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> dict[str, int]:
        result = await self.session.execute(
            select(Enrollment.status, func.count())
            .where(Enrollment.tenant_id == tenant_id, Enrollment.sequence_id == sequence_id)
            .group_by(Enrollment.status)
        )
        return {status: int(n) for status, n in result.all()}

    async def exit_reason_counts(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> dict[str, int]:
        """Ended enrollments (exited or stopped) by exit reason."""
        result = await self.session.execute(
            select(Enrollment.exit_reason, func.count())
            .where(
                Enrollment.tenant_id == tenant_id,
                Enrollment.sequence_id == sequence_id,
                Enrollment.status.in_(("exited", "stopped")),
            )
            .group_by(Enrollment.exit_reason)
        )
        return {reason or "unknown": int(n) for reason, n in result.all()}

    async def reply_counts(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> tuple[int, int]:
        """(replies in total, enrollments with at least one reply)."""
        result = await self.session.execute(
            select(
                func.coalesce(func.sum(Enrollment.replies), 0),
                func.count().filter(Enrollment.replies > 0),
            ).where(Enrollment.tenant_id == tenant_id, Enrollment.sequence_id == sequence_id)
        )
        total, replied = result.one()
        return int(total), int(replied)

    async def step_result_counts(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID
    ) -> builtins.list[tuple[str, str, str, int]]:
        """(step id, step type, result, count) over every enrollment's step history; a row whose outcome repeated in
        its execution (a send deferred twice) counts `data.times` times."""
        times = func.sum(outcome_times(EnrollmentStep.data))
        result = await self.session.execute(
            select(EnrollmentStep.step_id, EnrollmentStep.type, EnrollmentStep.result, times)
            .where(EnrollmentStep.tenant_id == tenant_id, EnrollmentStep.sequence_id == sequence_id)
            .group_by(EnrollmentStep.step_id, EnrollmentStep.type, EnrollmentStep.result)
        )
        return [(step_id, type_, outcome, int(n)) for step_id, type_, outcome, n in result.all()]

"""SQL for enrollments and their step history: create, read, mirror the workflow's state, count and reserve sends.

`mirror` applies a state only when its revision is newer than the row's, so activities finishing out of order never
roll an enrollment back. `record_step` and `reserve_send` are idempotent on (enrollment, step execution, outcome).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import Enrollment, EnrollmentStep
from repositories.jobs import not_in_open_job

OPEN_STATUSES = ("active", "paused")
SEND_STEP = "send_whatsapp"
RESERVED = "reserved"


def outcome_times(data: Any) -> Any:
    """How many times a step row's outcome happened in its execution (`data.times`; rows without it: once)."""
    return func.coalesce(data["times"].as_integer(), 1)


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, enrollment: Enrollment) -> Enrollment:
        self.session.add(enrollment)
        await self.session.flush()
        return enrollment

    async def get(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID) -> Enrollment | None:
        result = await self.session.execute(
            select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.id == enrollment_id)
        )
        return result.scalar_one_or_none()

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

    async def get_many(self, *, enrollment_ids: Sequence[uuid.UUID]) -> list[Enrollment]:
        if not enrollment_ids:
            return []
        result = await self.session.execute(select(Enrollment).where(Enrollment.id.in_(list(enrollment_ids))))
        return list(result.scalars())

    async def mark_workflow_started(self, *, enrollment_ids: Sequence[uuid.UUID]) -> None:
        """Record that the enrollments' workflows are known to run (the first time only)."""
        if enrollment_ids:
            await self.session.execute(
                update(Enrollment)
                .where(Enrollment.id.in_(list(enrollment_ids)), Enrollment.workflow_started_at.is_(None))
                # Not an edit of the row: `updated_at` stays.
                .values(workflow_started_at=func.now(), updated_at=Enrollment.updated_at)
                # Leave loaded rows as they are: the request may still read them (an expired attribute can't load).
                .execution_options(synchronize_session=False)
            )

    async def never_started(self, *, older_than: timedelta, limit: int) -> list[Enrollment]:
        """Active enrollments of any tenant whose workflow was never confirmed started nor ever mirrored a state,
        created before `older_than` ago and no item of an open job (the job starts those), oldest first."""
        result = await self.session.execute(
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
        return list(result.scalars())

    async def exists(self, *, enrollment_id: uuid.UUID) -> bool:
        result = await self.session.execute(select(Enrollment.id).where(Enrollment.id == enrollment_id))
        return result.scalar_one_or_none() is not None

    async def mirror(self, *, enrollment_id: uuid.UUID, revision: int, values: dict[str, Any]) -> bool:
        """Write the workflow's state if `revision` is newer than the row's; False when the row is newer or gone."""
        result = await self.session.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment_id, Enrollment.revision < revision)
            .values(**values, revision=revision, updated_at=func.now())
            .returning(Enrollment.id)
        )
        return result.scalar_one_or_none() is not None

    async def record_step(self, values: dict[str, Any]) -> bool:
        """Insert one step outcome; False when the same (enrollment, number, result) is already there.

        An outcome repeated within one step execution (a send deferred again: `data.times` higher than the row's)
        updates the row to the latest occurrence and its count; a retried write of the same occurrence changes nothing.
        """
        row = insert(EnrollmentStep).values(id=uuid.uuid4(), **values)
        statement = row.on_conflict_do_update(
            index_elements=["enrollment_id", "number", "result"],
            set_={
                "detail": row.excluded.detail,
                "planned_at": row.excluded.planned_at,
                "fired_at": row.excluded.fired_at,
                "data": row.excluded.data,
            },
            where=outcome_times(EnrollmentStep.data) < outcome_times(row.excluded.data),
        ).returning(EnrollmentStep.id)
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def steps(self, *, enrollment_id: uuid.UUID) -> list[EnrollmentStep]:
        result = await self.session.execute(
            select(EnrollmentStep)
            .where(EnrollmentStep.enrollment_id == enrollment_id)
            .order_by(EnrollmentStep.number, EnrollmentStep.fired_at)
        )
        return list(result.scalars())

    async def lock_tenant_day(self, *, tenant_id: uuid.UUID, day_start: datetime) -> None:
        """Serialise cap reservations of one tenant day (held until the transaction ends)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"daily-send:{tenant_id}:{day_start.isoformat()}"},
        )

    async def has_reservation(self, *, enrollment_id: uuid.UUID, number: int) -> bool:
        result = await self.session.execute(
            select(EnrollmentStep.id).where(
                EnrollmentStep.enrollment_id == enrollment_id,
                EnrollmentStep.number == number,
                EnrollmentStep.result == RESERVED,
            )
        )
        return result.first() is not None

    async def sends_between(self, *, tenant_id: uuid.UUID, start: datetime, end: datetime) -> int:
        """The tenant's sequence sends (reserved or sent step executions) fired in [start, end)."""
        executions = (
            select(EnrollmentStep.enrollment_id, EnrollmentStep.number)
            .where(
                EnrollmentStep.tenant_id == tenant_id,
                EnrollmentStep.type == SEND_STEP,
                EnrollmentStep.result.in_((RESERVED, "sent")),
                EnrollmentStep.fired_at >= start,
                EnrollmentStep.fired_at < end,
            )
            .distinct()
            .subquery()
        )
        return int((await self.session.execute(select(func.count()).select_from(executions))).scalar_one())

"""SQL for sequences: drafts and published versions, and the API's reads and inserts of enrollments and tasks.

Every read is scoped by tenant: another tenant's row is simply not found.
"""

import builtins
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import Enrollment, EnrollmentStep, SequenceVersion, Task, TimelineEvent
from models import Sequence as SequenceRow
from repositories.enrollments import outcome_times

OPEN_STATUSES = ("active", "paused")
_IN_CHUNK = 5000  # ids per IN (...) list
_INSERT_CHUNK = 1000  # rows per INSERT statement (PostgreSQL's 65535 bind parameters)


class SequenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, sequence: SequenceRow) -> SequenceRow:
        self.session.add(sequence)
        await self.session.flush()
        await self.session.refresh(sequence)
        return sequence

    async def get(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, for_update: bool = False
    ) -> SequenceRow | None:
        """The sequence; `for_update` locks it until commit (publish numbers versions under this lock)."""
        statement = select(SequenceRow).where(SequenceRow.tenant_id == tenant_id, SequenceRow.id == sequence_id)
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def get_by_create_idempotency_key(self, *, tenant_id: uuid.UUID, key: str) -> SequenceRow | None:
        result = await self.session.execute(
            select(SequenceRow).where(SequenceRow.tenant_id == tenant_id, SequenceRow.create_idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def list(self, *, tenant_id: uuid.UUID, status: str | None = None, limit: int = 200) -> list[SequenceRow]:
        """Newest first."""
        statement = select(SequenceRow).where(SequenceRow.tenant_id == tenant_id)
        if status is not None:
            statement = statement.where(SequenceRow.status == status)
        result = await self.session.execute(
            statement.order_by(SequenceRow.created_at.desc(), SequenceRow.id.desc()).limit(limit)
        )
        return list(result.scalars())

    async def refresh(self, sequence: SequenceRow) -> SequenceRow:
        """Flush pending changes and re-read server-side columns (updated_at)."""
        await self.session.flush()
        await self.session.refresh(sequence)
        return sequence

    async def add_version(self, version: SequenceVersion) -> SequenceVersion:
        """Insert and flush, so a taken (sequence, version) surfaces here as an IntegrityError."""
        self.session.add(version)
        await self.session.flush()
        await self.session.refresh(version)
        return version

    async def get_version(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, version: int
    ) -> SequenceVersion | None:
        result = await self.session.execute(
            select(SequenceVersion).where(
                SequenceVersion.tenant_id == tenant_id,
                SequenceVersion.sequence_id == sequence_id,
                SequenceVersion.version == version,
            )
        )
        return result.scalar_one_or_none()

    async def get_version_by_id(self, *, tenant_id: uuid.UUID, version_id: uuid.UUID) -> SequenceVersion | None:
        result = await self.session.execute(
            select(SequenceVersion).where(SequenceVersion.tenant_id == tenant_id, SequenceVersion.id == version_id)
        )
        return result.scalar_one_or_none()

    async def list_versions(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> builtins.list[SequenceVersion]:
        """Newest first."""
        result = await self.session.execute(
            select(SequenceVersion)
            .where(SequenceVersion.tenant_id == tenant_id, SequenceVersion.sequence_id == sequence_id)
            .order_by(SequenceVersion.version.desc())
        )
        return list(result.scalars())

    async def max_version(self, *, sequence_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.coalesce(func.max(SequenceVersion.version), 0)).where(
                SequenceVersion.sequence_id == sequence_id
            )
        )
        return int(result.scalar_one())


class EnrollmentQueries:
    """The API's reads and inserts of enrollments and their tasks (the SequenceWorkflow's activities write the rest)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    async def record_timeline_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Insert lead timeline events in a few statements (one per enrolled lead); a repeated key is skipped."""
        for start in range(0, len(events), _INSERT_CHUNK):
            await self.session.execute(
                insert(TimelineEvent)
                .values([{"id": uuid.uuid4(), **event} for event in events[start : start + _INSERT_CHUNK]])
                .on_conflict_do_nothing(index_elements=[TimelineEvent.idempotency_key])
            )

    async def get(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID, fresh: bool = False) -> Enrollment | None:
        """`fresh` re-reads a row this session already holds (the workflow's mirror wrote it meanwhile)."""
        statement = select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.id == enrollment_id)
        if fresh:
            statement = statement.execution_options(populate_existing=True)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_many(
        self, *, tenant_id: uuid.UUID, enrollment_ids: Collection[uuid.UUID]
    ) -> builtins.list[Enrollment]:
        ids = list(enrollment_ids)
        found: builtins.list[Enrollment] = []
        for start in range(0, len(ids), _IN_CHUNK):
            result = await self.session.execute(
                select(Enrollment).where(
                    Enrollment.tenant_id == tenant_id, Enrollment.id.in_(ids[start : start + _IN_CHUNK])
                )
            )
            found.extend(result.scalars())
        return found

    async def for_sequence(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, status: str | None, limit: int
    ) -> builtins.list[Enrollment]:
        """Newest first."""
        statement = select(Enrollment).where(Enrollment.tenant_id == tenant_id, Enrollment.sequence_id == sequence_id)
        if status is not None:
            statement = statement.where(Enrollment.status == status)
        result = await self.session.execute(
            statement.order_by(Enrollment.created_at.desc(), Enrollment.id.desc()).limit(limit)
        )
        return list(result.scalars())

    async def steps(self, *, tenant_id: uuid.UUID, enrollment_id: uuid.UUID) -> builtins.list[EnrollmentStep]:
        result = await self.session.execute(
            select(EnrollmentStep)
            .where(EnrollmentStep.tenant_id == tenant_id, EnrollmentStep.enrollment_id == enrollment_id)
            .order_by(EnrollmentStep.number, EnrollmentStep.fired_at, EnrollmentStep.id)
        )
        return list(result.scalars())

    async def get_task(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID, fresh: bool = False) -> Task | None:
        statement = select(Task).where(Task.tenant_id == tenant_id, Task.id == task_id)
        if fresh:
            statement = statement.execution_options(populate_existing=True)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def task_inbox(
        self, *, tenant_id: uuid.UUID, assignee_id: uuid.UUID | None, status: str, limit: int
    ) -> builtins.list[Task]:
        """Tasks in `status`, due first; `assignee_id` None means every assignee."""
        statement = select(Task).where(Task.tenant_id == tenant_id, Task.status == status)
        if assignee_id is not None:
            statement = statement.where(Task.assignee_id == assignee_id)
        result = await self.session.execute(statement.order_by(Task.due_at, Task.id).limit(limit))
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

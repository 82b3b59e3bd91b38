"""SQL for background jobs: create, read (tenant-scoped), record a chunk's progress once, end, and find stalled ones."""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, any_, exists, func, or_, select, update

from models import Job, Tenant
from models.job import OPEN_JOB_STATES
from repositories.base import Repository

# A job lists its first skipped and failed items; past this only the counts by reason grow.
MAX_LISTED_ITEMS = 500


def count_by_reason(items: Sequence[dict[str, Any]], counts: dict[str, int] | None = None) -> dict[str, int]:
    """`counts` plus one for each item's `reason`."""
    totals = dict(counts or {})
    for item in items:
        totals[item["reason"]] = totals.get(item["reason"], 0) + 1
    return totals


class JobRepository(Repository[Job]):
    model = Job

    async def get(self, *, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Job | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=job_id, fresh=True)

    async def get_by_id(self, *, job_id: uuid.UUID) -> Job | None:
        """Any tenant's job: for its workflow's activities, which get the id from the job itself."""
        return await self.by_id(job_id)

    async def lock(self, *, job_id: uuid.UUID) -> Job | None:
        """The job, locked until the transaction ends (its workflow's activities write it one at a time)."""
        result = await self.session.execute(
            select(Job).where(Job.id == job_id).with_for_update().execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def begin(self, *, job_id: uuid.UUID) -> Job | None:
        """Mark a queued job running (a running one stays so); the job as it is now, None when it is gone."""
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(OPEN_JOB_STATES))
            .values(state="running", started_at=func.coalesce(Job.started_at, func.now()), updated_at=func.now())
        )
        return await self.lock(job_id=job_id)

    async def record_chunk(
        self,
        job: Job,
        *,
        offset: int,
        end: int,
        started: int,
        failed: Sequence[dict[str, Any]],
    ) -> bool:
        """Add one chunk's outcome to a locked job; False (nothing added) when this chunk was recorded before."""
        if job.next_offset != offset:
            return False
        job.started += started
        job.failed += len(failed)
        job.failed_by_reason = count_by_reason(failed, job.failed_by_reason)
        room = MAX_LISTED_ITEMS - len(job.failed_items)
        if room > 0 and failed:
            job.failed_items = [*job.failed_items, *failed[:room]]
        job.next_offset = end
        job.updated_at = func.now()
        await self.session.flush()
        return True

    async def finish(self, *, job_id: uuid.UUID, error: str | None) -> None:
        await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(OPEN_JOB_STATES))
            .values(
                state="failed" if error else "done",
                error=(error or "")[:2000] or None,
                finished_at=func.now(),
                updated_at=func.now(),
            )
        )

    async def stalled(self, *, idle_for: timedelta, limit: int) -> list[tuple[Job, Tenant]]:
        """Jobs not ended whose last write (creation, begin, a chunk) is older than `idle_for`, oldest first."""
        result = await self.session.execute(
            select(Job, Tenant)
            .join(Tenant, Tenant.id == Job.tenant_id)
            .where(
                Job.state.in_(OPEN_JOB_STATES),
                Job.updated_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, idle_for.total_seconds()),
            )
            .order_by(Job.updated_at)
            .limit(limit)
        )
        return [(job, tenant) for job, tenant in result.all()]


def not_in_open_job(tenant_id: Any, row_id: Any) -> ColumnElement[bool]:
    """SQL condition: the row (a lead or an enrollment) is no item of a job still queued or running."""
    return ~exists().where(
        Job.tenant_id == tenant_id,
        Job.state.in_(OPEN_JOB_STATES),
        or_(row_id == any_(Job.item_ids), row_id == any_(Job.retry_ids)),
    )

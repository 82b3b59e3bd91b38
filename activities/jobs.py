"""Activities of the background-job workflows: start the workflows of a job a chunk at a time, and sweep.

- `begin`: the job is running; where it stands (a job started again goes on after its last recorded chunk).
- `start_chunk`: start one chunk of the job's workflows concurrently (SequenceWorkflows for a bulk enrollment,
  LeadWorkflows for an import), mark the rows whose workflow runs, and add the chunk's outcome to the job once.
  Starting is idempotent (conflict policy USE_EXISTING: a running workflow is kept), so a retried chunk is harmless.
- `finish`: the job ends `done`, or `failed` with its error.
- `sweep`: start what a crash between a commit and a start left behind — jobs queued or stalled past the grace
  period, and enrollments and leads never started that no open job covers.

A row that could not be started is recorded as failed with its reason and keeps its NULL `workflow_started_at`:
the sweeper tries it again after the grace period.
"""

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from core.config import Settings
from models import Enrollment, Lead, SequenceVersion, Tenant
from repositories.enrollments import EnrollmentRepository
from repositories.jobs import JobRepository
from repositories.leads import LeadRepository
from repositories.sequences import SequenceRepository
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from workflow_clients.jobs import JobWorkflowClient
from workflow_clients.lead import LeadWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient
from workflows.failures import WorkflowFailure
from workflows.job_types import (
    BEGIN_JOB,
    FINISH_JOB,
    START_JOB_CHUNK,
    SWEEP,
    ChunkOutcome,
    JobChunk,
    JobKind,
    JobOutcome,
    JobPlan,
    JobRef,
    SweepRequest,
    SweepResult,
)

log = logging.getLogger(__name__)

JOB_GONE = WorkflowFailure.JOB_GONE
ROW_GONE = "deleted"  # the row was deleted (with its lead) before its workflow could start
NOT_STARTED = "workflow_not_started"  # Temporal refused or could not be reached


class StartOutcome:
    """Which rows' workflows run now, and the failed ones as job items ({<id field>, reason, message})."""

    def __init__(self) -> None:
        self.started: list[uuid.UUID] = []
        self.failed: list[dict[str, Any]] = []


class JobActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], client: Client, settings: Settings) -> None:
        self.session_factory = session_factory
        self.client = client
        self.settings = settings
        self.jobs = JobWorkflowClient(client)
        self.leads = LeadWorkflowClient(client, settings)
        self.enrollments = SequenceWorkflowClient(client, settings)

    @activity.defn(name=BEGIN_JOB)
    async def begin(self, ref: JobRef) -> JobPlan:
        async with self.session_factory() as session, session.begin():
            job = await JobRepository(session).begin(job_id=ref.job_id)
            if job is None:
                raise ApplicationError(f"job {ref.job_id} no longer exists", type=JOB_GONE, non_retryable=True)
            return JobPlan(
                items=len(job.item_ids) + len(job.retry_ids),
                next_offset=job.next_offset,
                chunk_size=self.settings.job_chunk_size,
                ended=job.state in ("done", "failed"),
            )

    @activity.defn(name=START_JOB_CHUNK)
    async def start_chunk(self, chunk: JobChunk) -> ChunkOutcome:
        async with self.session_factory() as session:
            job = await JobRepository(session).get_by_id(job_id=chunk.job_id)
            if job is None:
                raise ApplicationError(f"job {chunk.job_id} no longer exists", type=JOB_GONE, non_retryable=True)
            everything = [*job.item_ids, *job.retry_ids]
            ids = everything[chunk.offset : chunk.offset + chunk.limit]
            counted = set(job.item_ids[chunk.offset : chunk.offset + chunk.limit])
            kind, tenant_id = JobKind(job.kind), job.tenant_id
        start = self.start_enrollments if kind is JobKind.BULK_ENROLLMENT else self.start_leads
        outcome = await start(tenant_id, ids)
        # Rows of earlier requests (retry_ids) were counted as skipped by this job: only its own items count here.
        id_field = _id_field(kind)
        started = sum(1 for row_id in outcome.started if row_id in counted)
        failed = [item for item in outcome.failed if uuid.UUID(item[id_field]) in counted]
        async with self.session_factory() as session, session.begin():
            jobs = JobRepository(session)
            locked = await jobs.lock(job_id=chunk.job_id)
            if locked is not None:
                await jobs.record_chunk(
                    locked, offset=chunk.offset, end=chunk.offset + len(ids), started=started, failed=failed
                )
        return ChunkOutcome(started=started, failed=len(failed))

    @activity.defn(name=FINISH_JOB)
    async def finish(self, outcome: JobOutcome) -> None:
        async with self.session_factory() as session, session.begin():
            await JobRepository(session).finish(job_id=outcome.job_id, error=outcome.error)

    @activity.defn(name=SWEEP)
    async def sweep(self, _: SweepRequest) -> SweepResult:
        grace = timedelta(seconds=self.settings.job_sweep_grace_seconds)
        batch = self.settings.job_sweep_batch
        async with self.session_factory() as session:
            stalled = [
                (job.id, tenant.id, tenant.slug)
                for job, tenant in await JobRepository(session).stalled(idle_for=grace, limit=batch)
            ]
            enrollments = await EnrollmentRepository(session).never_started(older_than=grace, limit=batch)
            leads = await LeadRepository(session).never_started(older_than=grace, limit=batch)
            enrollments_by_tenant = _ids_by_tenant(enrollments)
            leads_by_tenant = _ids_by_tenant(leads)
        failed = 0
        jobs = 0
        for job_id, tenant_id, tenant_slug in stalled:
            try:
                await self.jobs.start(tenant_id=tenant_id, tenant_slug=tenant_slug, job_id=job_id)
                jobs += 1
            except Exception as exc:  # the next sweep tries again
                log.warning("sweeper: starting the workflow of job %s failed: %s", job_id, exc)
                failed += 1
        started_enrollments = started_leads = 0
        for tenant_id, ids in enrollments_by_tenant.items():
            outcome = await self.start_enrollments(tenant_id, ids)
            started_enrollments += len(outcome.started)
            failed += len(outcome.failed)
        for tenant_id, ids in leads_by_tenant.items():
            outcome = await self.start_leads(tenant_id, ids)
            started_leads += len(outcome.started)
            failed += len(outcome.failed)
        if jobs or started_enrollments or started_leads or failed:
            log.info(
                "sweeper: started %d job(s), %d enrollment(s), %d lead(s); %d failed",
                jobs,
                started_enrollments,
                started_leads,
                failed,
            )
        return SweepResult(jobs=jobs, enrollments=started_enrollments, leads=started_leads, failed=failed)

    # Starting rows' workflows ---------------------------------------------------------------------------------------

    async def start_enrollments(self, tenant_id: uuid.UUID, enrollment_ids: Sequence[uuid.UUID]) -> StartOutcome:
        """Start the enrollments' SequenceWorkflows on the version each row was enrolled in, from the start time
        the row holds (the request's `start_at` plus its pacing), at most `enrollment_start_concurrency` in flight
        and `enrollment_start_per_second` a second."""
        async with self.session_factory() as session:
            tenant = await TenantRepository(session).get(tenant_id)
            rows = {
                e.id: e
                for e in await EnrollmentRepository(session).get_many(enrollment_ids=enrollment_ids)
                if e.tenant_id == tenant_id
            }
            leads = {
                lead.id: lead
                for lead in await LeadRepository(session).get_many(
                    tenant_id=tenant_id, lead_ids=list({e.lead_id for e in rows.values()})
                )
            }
            versions: dict[uuid.UUID, SequenceVersion] = {}
            sequences = SequenceRepository(session)
            for version_id in {e.sequence_version_id for e in rows.values()}:
                version = await sequences.get_version_by_id(tenant_id=tenant_id, version_id=version_id)
                if version is not None:
                    versions[version.id] = version
            stages = {s.key: s.stage for s in await StatusRepository(session).list(tenant_id=tenant_id)}

        def first_step_at(enrollment: Enrollment) -> datetime:
            return enrollment.next_action_at or datetime.now(UTC)  # the row's start until its workflow mirrors

        async def start(enrollment_id: uuid.UUID) -> None:
            enrollment = rows.get(enrollment_id)
            lead = leads.get(enrollment.lead_id) if enrollment else None
            version = versions.get(enrollment.sequence_version_id) if enrollment else None
            if tenant is None or enrollment is None or lead is None or version is None:
                raise _RowGone
            await self.enrollments.start(
                tenant=tenant,
                lead=lead,
                enrollment=enrollment,
                version=version,
                status_stages=stages,
                start_at=first_step_at(enrollment),
            )

        outcome = await self._start_each(
            enrollment_ids,
            start,
            id_field="enrollment_id",
            concurrency=self.settings.enrollment_start_concurrency,
            per_second=self.settings.enrollment_start_per_second,
        )
        async with self.session_factory() as session, session.begin():
            await EnrollmentRepository(session).mark_workflow_started(enrollment_ids=outcome.started)
        return outcome

    async def start_leads(self, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> StartOutcome:
        """Start the leads' LeadWorkflows from their committed rows, `lead_import_workflow_concurrency` at a time."""
        async with self.session_factory() as session:
            tenant: Tenant | None = await TenantRepository(session).get(tenant_id)
            leads: dict[uuid.UUID, Lead] = {
                lead.id: lead for lead in await LeadRepository(session).get_many(tenant_id=tenant_id, lead_ids=lead_ids)
            }

        async def start(lead_id: uuid.UUID) -> None:
            lead = leads.get(lead_id)
            if tenant is None or lead is None:
                raise _RowGone
            await self.leads.start(tenant=tenant, lead=lead)

        outcome = await self._start_each(
            lead_ids, start, id_field="lead_id", concurrency=self.settings.lead_import_workflow_concurrency
        )
        async with self.session_factory() as session, session.begin():
            await LeadRepository(session).mark_workflow_started(lead_ids=outcome.started)
        return outcome

    @staticmethod
    async def _start_each(
        ids: Sequence[uuid.UUID],
        start: Callable[[uuid.UUID], Awaitable[None]],
        *,
        id_field: str,
        concurrency: int,
        per_second: float | None = None,
    ) -> StartOutcome:
        outcome = StartOutcome()
        gate = asyncio.Semaphore(concurrency)
        interval = 1.0 / per_second if per_second else 0.0
        began = time.monotonic()

        async def one(position: int, row_id: uuid.UUID) -> None:
            # Paced: the n-th start waits until n * interval after the first; at most `concurrency` in flight.
            delay = began + position * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with gate:
                try:
                    await start(row_id)
                except _RowGone:
                    outcome.failed.append({id_field: str(row_id), "reason": ROW_GONE, "message": "the row is gone"})
                except Exception as exc:  # one failed start (Temporal refusing, timing out) must not stop the others
                    log.warning("starting the workflow of %s %s failed: %s", id_field, row_id, exc)
                    message = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
                    outcome.failed.append({id_field: str(row_id), "reason": NOT_STARTED, "message": message})
                else:
                    outcome.started.append(row_id)

        await asyncio.gather(*(one(position, row_id) for position, row_id in enumerate(ids)))
        order = {row_id: i for i, row_id in enumerate(ids)}
        outcome.started.sort(key=order.__getitem__)
        outcome.failed.sort(key=lambda item: order[uuid.UUID(item[id_field])])
        return outcome


class _RowGone(Exception):
    """The row to start was deleted meanwhile (with its lead): nothing to start."""


def _id_field(kind: JobKind) -> str:
    return "enrollment_id" if kind is JobKind.BULK_ENROLLMENT else "lead_id"


def _ids_by_tenant(rows: Sequence[Enrollment] | Sequence[Lead]) -> dict[uuid.UUID, list[uuid.UUID]]:
    grouped: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        grouped[row.tenant_id].append(row.id)
    return grouped

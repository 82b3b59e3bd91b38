"""Background jobs behind the API: create one with the rows a request commits (its workflow starts after the commit,
api/transaction.py), read it (tenant-scoped: another tenant's job is a 404; readable by whoever may read what it
works on).

A job whose workflow cannot be started now (Temporal unreachable) stays `queued`: its rows are saved, the request
still answers 202, and the sweeper starts the job after `job_sweep_grace_seconds`.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.base import from_row
from api.schemas.jobs import JobPublic, job_url
from api.services import found
from api.transaction import after_commit
from core.errors import Forbidden
from domain.permissions import Action, allowed
from models import Job, Tenant
from repositories.jobs import MAX_LISTED_ITEMS, JobRepository, count_by_reason
from workflow_clients.jobs import JobWorkflowClient
from workflows.job_types import JobKind, JobState

# Reading a job takes the permission to read what it worked on.
READ_ACTION = {JobKind.BULK_ENROLLMENT: Action.ENROLLMENT_READ, JobKind.LEAD_IMPORT: Action.LEAD_READ}


async def create_job(
    *,
    session: AsyncSession,
    jobs: JobWorkflowClient,
    tenant: Tenant,
    kind: JobKind,
    actor: str,
    skipped: Sequence[dict[str, Any]],
    item_ids: Sequence[uuid.UUID],
    retry_ids: Sequence[uuid.UUID] = (),
) -> Job:
    """A queued job over `item_ids` (rows this request saved) and `retry_ids` (earlier rows never started), with
    the request's own skips (each a dict with its `reason`) already counted; its workflow starts after the commit."""
    job = await JobRepository(session).add(
        Job(
            tenant_id=tenant.id,
            kind=kind.value,
            state="queued",
            created_by=actor,
            total=len(item_ids) + len(skipped),
            started=0,
            skipped=len(skipped),
            skipped_by_reason=count_by_reason(skipped),
            skipped_items=list(skipped[:MAX_LISTED_ITEMS]),
            failed=0,
            failed_by_reason={},
            failed_items=[],
            item_ids=list(item_ids),
            retry_ids=list(retry_ids),
            next_offset=0,
        )
    )
    tenant_id, tenant_slug, job_id = tenant.id, tenant.slug, job.id

    async def start() -> None:
        await jobs.start(tenant_id=tenant_id, tenant_slug=tenant_slug, job_id=job_id)

    # No failure answer: the rows are saved and the request answers 202; the sweeper starts a job left queued.
    after_commit(session, start, failure=None)
    return job


async def get_job(*, session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID, role: str) -> Job:
    job = found(await JobRepository(session).get(tenant_id=tenant_id, job_id=job_id), "job", job_id)
    action = READ_ACTION[JobKind(job.kind)]
    if not allowed(role, action):
        raise Forbidden(f"role '{role}' may not perform '{action}'")
    return job


def job_public(job: Job) -> JobPublic:
    return from_row(JobPublic, job, kind=JobKind(job.kind), state=JobState(job.state), url=job_url(job.id))

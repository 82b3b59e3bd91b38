"""Background jobs under /api/v1/jobs: the progress of a bulk enrollment or a CSV import answered with 202.

Tenant-scoped: another tenant's job is a 404. A bulk enrollment's job is read with `enrollment:read`, an import's
with `lead:read`.
"""

import uuid

from fastapi import APIRouter

from api.deps import SessionDep
from api.schemas.jobs import JobPublic
from api.security import Authenticated
from api.services import jobs as service

router = APIRouter(tags=["jobs"])


@router.get("/jobs/{job_id}")
async def get_job(job_id: uuid.UUID, principal: Authenticated, session: SessionDep) -> JobPublic:
    """State (queued, running, done, failed), totals, and the skipped and failed items with their reasons."""
    job = await service.get_job(session=session, tenant_id=principal.tenant(), job_id=job_id, role=principal.role)
    return service.job_public(job)

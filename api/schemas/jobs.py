"""HTTP shape of a background job (GET /jobs/{id}, and inside the 202 of a bulk enrollment or a CSV import)."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from workflows.job_types import JobKind, JobState

JOBS = "/api/v1/jobs"


class JobPublic(BaseModel):
    id: uuid.UUID
    kind: JobKind
    state: JobState = Field(
        description="queued: saved, its workflows not yet starting; running; done; failed (see `error`)"
    )
    url: str = Field(description="GET it for progress")
    created_by: str
    total: int = Field(description="items the request named (leads, or the file's rows)")
    started: int = Field(description="items whose workflow was started")
    skipped: int = Field(description="items the request refused (nothing to start), by reason below")
    skipped_by_reason: dict[str, int]
    skipped_items: list[dict[str, Any]] = Field(description="the first skipped items with their reason (capped)")
    failed: int = Field(description="items saved whose workflow could not be started (the sweeper tries again)")
    failed_by_reason: dict[str, int]
    failed_items: list[dict[str, Any]] = Field(description="the first failed items with their reason (capped)")
    error: str | None = Field(description="why the job failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_url(job_id: uuid.UUID) -> str:
    return f"{JOBS}/{job_id}"

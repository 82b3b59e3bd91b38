"""The typed surface of the background-job workflows: BulkStartWorkflow (one per job) and SweepWorkflow (the
sweeper's schedule), and their activities' I/O.

Shared by the workflows, their activities (activities/jobs.py) and the starters (workflow_clients/jobs.py). Pure
pydantic: safe in the workflow sandbox.
"""

import uuid
from enum import StrEnum

from workflows.shared import FrozenModel

# Activities (activities/jobs.py registers them under these names).
BEGIN_JOB = "jobs.begin"
START_JOB_CHUNK = "jobs.start_chunk"
FINISH_JOB = "jobs.finish"
SWEEP = "jobs.sweep"

# The sweeper's Temporal Schedule, and the id of each workflow it starts (suffixed with the time by Temporal).
SWEEP_SCHEDULE_ID = "leadflow-sweeper"


class JobKind(StrEnum):
    BULK_ENROLLMENT = "bulk_enrollment"  # items are enrollment ids
    LEAD_IMPORT = "lead_import"  # items are lead ids


class JobState(StrEnum):
    QUEUED = "queued"  # saved; its workflow has not begun (or could not be started: the sweeper starts it)
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def job_workflow_id(tenant_slug: str, job_id: str) -> str:
    return f"job:{tenant_slug}:{job_id}"


class BulkStartInput(FrozenModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    job_id: uuid.UUID


class JobRef(FrozenModel):
    job_id: uuid.UUID


class JobPlan(FrozenModel):
    """Where a (re)started job stands: `items` workflows to start in chunks of `chunk_size`, from `next_offset`."""

    items: int
    next_offset: int
    chunk_size: int
    ended: bool  # done or failed already: nothing left to do


class JobChunk(FrozenModel):
    job_id: uuid.UUID
    offset: int
    limit: int


class ChunkOutcome(FrozenModel):
    started: int
    failed: int


class JobOutcome(FrozenModel):
    job_id: uuid.UUID
    error: str | None = None


class SweepRequest(FrozenModel):
    pass


class SweepResult(FrozenModel):
    jobs: int  # queued or stalled jobs whose workflow was started again
    enrollments: int  # enrollments started whose workflow had never started
    leads: int  # leads started whose workflow had never started
    failed: int  # starts that failed (tried again at the next sweep)

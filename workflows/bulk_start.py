"""BulkStartWorkflow: starts the workflows of one background job (a bulk enrollment, a CSV import) in chunks.

Contract
- Id `job:{tenant_slug}:{job_id}` (workflows/job_types.py); started by the API after the job row committed (conflict
  policy USE_EXISTING), and by the sweeper for a job still queued or stalled after the grace period. Search
  attribute TenantId.
- Input `BulkStartInput`. Activities (activities/jobs.py): `jobs.begin` marks the job running and answers where it
  stands (a restarted job goes on from the last recorded chunk); `jobs.start_chunk` starts one chunk of workflows
  concurrently and records the chunk's progress on the job row (idempotent: a workflow already running is kept,
  and a chunk is counted once); `jobs.finish` ends the job `done`, or `failed` with the error when a chunk could not
  be recorded within its time.
- Returns the job's state.
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError

from core.queues import DB_WRITE, JOB_CHUNK, JOB_FINISH
from workflows.job_types import (
    BEGIN_JOB,
    FINISH_JOB,
    START_JOB_CHUNK,
    BulkStartInput,
    ChunkOutcome,
    JobChunk,
    JobOutcome,
    JobPlan,
    JobRef,
    JobState,
)


@workflow.defn
class BulkStartWorkflow:
    @workflow.run
    async def run(self, data: BulkStartInput) -> JobState:
        plan = await workflow.execute_activity(
            BEGIN_JOB,
            JobRef(job_id=data.job_id),
            result_type=JobPlan,
            **DB_WRITE,
        )
        if plan.ended:
            return JobState.DONE
        error: str | None = None
        try:
            for offset in range(plan.next_offset, plan.items, plan.chunk_size):
                await workflow.execute_activity(
                    START_JOB_CHUNK,
                    JobChunk(job_id=data.job_id, offset=offset, limit=plan.chunk_size),
                    result_type=ChunkOutcome,
                    **JOB_CHUNK,
                )
        except ActivityError as exc:
            error = str(exc.cause or exc)
        await workflow.execute_activity(
            FINISH_JOB,
            JobOutcome(job_id=data.job_id, error=error),
            **JOB_FINISH,
        )
        return JobState.FAILED if error else JobState.DONE

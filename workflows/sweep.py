"""SweepWorkflow: one run of the sweeper, started by the Temporal Schedule `leadflow-sweeper` every
`LEADFLOW_JOB_SWEEP_INTERVAL_SECONDS` (overlap policy SKIP: never two sweeps at once).

Its one activity (`jobs.sweep`, activities/jobs.py) starts what a crash between a commit and a workflow start left
behind: jobs still queued (or stalled) after the grace period, and enrollments and leads whose workflow never
started that no open job covers. Returns what it started.
"""

from temporalio import workflow

from core.queues import SWEEP_RUN
from workflows.job_types import SWEEP, SweepRequest, SweepResult


@workflow.defn
class SweepWorkflow:
    @workflow.run
    async def run(self, request: SweepRequest) -> SweepResult:
        # One attempt: the next scheduled sweep is the retry.
        return await workflow.execute_activity(
            SWEEP,
            request,
            result_type=SweepResult,
            **SWEEP_RUN,
        )

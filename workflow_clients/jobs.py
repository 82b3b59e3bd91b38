"""Starting the background-job workflows from outside Temporal: the API (after a job's commit), the sweeper (a job
left queued) and the bootstrap (the sweeper's schedule) share these."""

import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from workflow_clients.errors import WorkflowCall, translated
from workflows import search_attributes
from workflows.bulk_start import BulkStartWorkflow
from workflows.job_types import SWEEP_SCHEDULE_ID, BulkStartInput, JobState, SweepRequest, job_workflow_id
from workflows.sweep import SweepWorkflow


class JobWorkflowClient:
    """Start a background job's workflow (id `job:{tenant_slug}:{job_id}`)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(
        self, *, tenant_id: uuid.UUID, tenant_slug: str, job_id: uuid.UUID
    ) -> WorkflowHandle[BulkStartWorkflow, JobState]:
        """Start the job's BulkStartWorkflow, or return the running one (a job is never worked twice at once)."""
        call = WorkflowCall(workflow="the job's workflow", entity=f"job {job_id}", details={"job_id": str(job_id)})
        async with translated(call):
            return await self.client.start_workflow(
                BulkStartWorkflow.run,
                BulkStartInput(tenant_id=tenant_id, tenant_slug=tenant_slug, job_id=job_id),
                id=job_workflow_id(tenant_slug, str(job_id)),
                task_queue=LEADS_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(search_attributes.TENANT_ID, str(tenant_id))]
                ),
                static_summary=f"Background job {job_id} of {tenant_slug}",
                rpc_timeout=WORKFLOW_START_TIMEOUT,
            )


def sweep_schedule(every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SweepWorkflow.run, SweepRequest(), id="leadflow-sweep", task_queue=LEADS_QUEUE
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep still running when the next is due makes that one skip: never two sweeps at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_sweep_schedule(client: Client, *, every: timedelta) -> bool:
    """Create the sweeper's schedule, or bring an existing one to `every`; True when it was created."""
    schedule = sweep_schedule(every)
    try:
        await client.create_schedule(SWEEP_SCHEDULE_ID, schedule)
        return True
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SWEEP_SCHEDULE_ID).update(updated)
        return False

"""The sweeper (`jobs.sweep`) against PostgreSQL and the session's Temporal server: what a crash between a commit and
a workflow start left behind gets started — a job still queued, enrollments and leads whose workflow never started —
and rows newer than the grace period or covered by an open job are left alone. Plus the sweeper's schedule."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, ScheduleIntervalSpec, ScheduleOverlapPolicy, WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment

from activities.jobs import JobActivities
from api.schemas.enrollments import EnrollRequest
from api.services.enrollments import enroll
from core.config import Settings
from core.errors import ServiceUnavailable
from models import Enrollment, Job, Lead
from repositories.tenants import TenantRepository
from tests.fixtures.jobs import finished_job
from tests.fixtures.sequences import ENROLLMENTS, QUIET_STEPS, create_sequence, eventually, insert_leads, us_phones
from workflow_clients.jobs import JobWorkflowClient, ensure_sweep_schedule
from workflow_clients.sequence import SequenceWorkflowClient
from workflows.ids import lead_workflow_id
from workflows.job_types import SWEEP_SCHEDULE_ID, SweepRequest, SweepResult
from workflows.sequence_types import enrollment_workflow_id

pytestmark = pytest.mark.usefixtures("lead_worker")

# Rows of this test are made two days old; the sweep's grace period of one day keeps every other test's rows out.
AGE = timedelta(days=2)
GRACE = timedelta(days=1)


async def _sweep(settings: Settings, session_factory, temporal_client: Client) -> SweepResult:
    sweeper_settings = settings.model_copy(update={"job_sweep_grace_seconds": GRACE.total_seconds()})
    activities = JobActivities(session_factory, temporal_client, sweeper_settings)
    return await ActivityEnvironment().run(activities.sweep, SweepRequest())


async def _age(session_factory: async_sessionmaker[AsyncSession], model: type, ids: list[uuid.UUID]) -> None:
    """Move the rows' creation (and a job's last write) back by AGE: the crash happened a while ago."""
    values = {"created_at": model.created_at - AGE}
    if model is Job:
        values["updated_at"] = Job.updated_at - AGE
    async with session_factory() as session:
        await session.execute(update(model).where(model.id.in_(ids)).values(**values))
        await session.commit()


async def _status(temporal_client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await temporal_client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None


async def _started_at_marks(session_factory, model: type, ids: list[uuid.UUID]) -> list[bool]:
    async with session_factory() as session:
        rows = (await session.execute(text(f"SELECT id, workflow_started_at FROM {model.__tablename__}"))).all()
    marks = {row_id: started is not None for row_id, started in rows}
    return [marks[i] for i in ids]


async def _starts_failing(*args, **kwargs):
    raise ServiceUnavailable("Temporal could not be reached")


async def test_enrollments_and_leads_whose_workflow_never_started_are_started_by_one_sweep(
    client: httpx.AsyncClient, tenant, settings, session_factory, temporal_client, monkeypatch
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    leads = await insert_leads(session_factory, tenant, us_phones(2))
    # The job saves the enrollments but cannot start their workflows (Temporal down for the worker's starts).
    monkeypatch.setattr(SequenceWorkflowClient, "start", _starts_failing)
    accepted = await client.post(
        f"/api/v1/sequences/{sequence['id']}/enrollments",
        json={"lead_ids": [str(i) for i in leads]},
        headers=tenant.headers(),
    )
    job = await finished_job(client, tenant, accepted)
    assert (job["state"], job["started"], job["failed"]) == ("done", 0, 2)
    monkeypatch.undo()
    enrollments = [uuid.UUID(i) for i in accepted.json()["enrollment_ids"]]
    # And leads stored without any workflow (a crash between an import's commit and its job's start, before jobs).
    orphans = await insert_leads(session_factory, tenant, us_phones(2))
    recent = await insert_leads(session_factory, tenant, us_phones(1))  # inside the grace period: left alone
    await _age(session_factory, Enrollment, enrollments)
    await _age(session_factory, Lead, orphans)

    result = await _sweep(settings, session_factory, temporal_client)

    assert result.enrollments >= 2 and result.leads >= 2
    for enrollment_id in enrollments:
        assert await _status(temporal_client, enrollment_workflow_id(tenant.slug, str(enrollment_id))) == (
            WorkflowExecutionStatus.RUNNING
        )

        async def mirrored(enrollment_id: uuid.UUID = enrollment_id) -> dict | None:
            body = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers())).json()
            return body if body["source"] == "workflow" and body["current_step_id"] == "first_wait" else None

        await eventually(mirrored, within=60, what=f"enrollment {enrollment_id} to run")
    for lead_id in orphans:
        assert await _status(temporal_client, lead_workflow_id(tenant.slug, str(lead_id))) == (
            WorkflowExecutionStatus.RUNNING
        )
    assert await _status(temporal_client, lead_workflow_id(tenant.slug, str(recent[0]))) is None
    assert await _started_at_marks(session_factory, Enrollment, enrollments) == [True, True]
    assert await _started_at_marks(session_factory, Lead, [*orphans, *recent]) == [True, True, False]

    # Started rows are marked: the next sweep finds nothing of them.
    again = await _sweep(settings, session_factory, temporal_client)
    assert again.enrollments == 0 and again.leads == 0


async def test_a_job_whose_workflow_never_started_is_picked_up_and_covers_its_rows(
    client: httpx.AsyncClient, tenant, settings, session_factory, temporal_client
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    leads = await insert_leads(session_factory, tenant, us_phones(3))
    # The request's work without its last step: rows and job committed, the job's workflow never started (a crash).
    async with session_factory() as session:
        plan = await enroll(
            session=session,
            jobs=JobWorkflowClient(temporal_client),
            tenant=await TenantRepository(session).get(tenant.tenant_id),
            sequence_id=uuid.UUID(sequence["id"]),
            data=EnrollRequest(lead_ids=leads),
            actor=f"user:{tenant.user_id('owner')}",
            settings=settings,
        )
        await session.commit()
    assert plan.job is not None
    job_url = f"/api/v1/jobs/{plan.job.id}"
    queued = (await client.get(job_url, headers=tenant.headers())).json()
    assert (queued["state"], queued["total"], queued["started"]) == ("queued", 3, 0)
    await _age(session_factory, Job, [plan.job.id])
    await _age(session_factory, Enrollment, plan.enrolled)

    result = await _sweep(settings, session_factory, temporal_client)

    assert result.jobs >= 1
    # Its rows are the job's to start: the sweep itself started none of them (no other test leaves old rows behind).
    assert result.enrollments == 0

    async def done() -> dict | None:
        body = (await client.get(job_url, headers=tenant.headers())).json()
        return body if body["state"] == "done" else None

    job = await eventually(done, within=60, what="the swept job to finish")
    assert (job["total"], job["started"], job["skipped"], job["failed"]) == (3, 3, 0, 0)
    for enrollment_id in plan.enrolled:
        assert await _status(temporal_client, enrollment_workflow_id(tenant.slug, str(enrollment_id))) == (
            WorkflowExecutionStatus.RUNNING
        )


async def test_starting_an_ended_enrollment_again_does_not_run_it_a_second_time(
    client: httpx.AsyncClient, tenant, settings, session_factory, temporal_client
) -> None:
    # A sequence that ends right away: a chunk retried after its enrollments ended must not run them again.
    steps = [{"type": "set_status", "id": "mark", "status": "contacted"}]
    sequence = await create_sequence(client, tenant, publish=True, steps=steps)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    accepted = await client.post(
        f"/api/v1/sequences/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]}, headers=tenant.headers()
    )
    assert (await finished_job(client, tenant, accepted))["started"] == 1
    (enrollment_id,) = [uuid.UUID(i) for i in accepted.json()["enrollment_ids"]]
    handle = temporal_client.get_workflow_handle(enrollment_workflow_id(tenant.slug, str(enrollment_id)))

    async def completed() -> str | None:
        described = await handle.describe()
        return described.run_id if described.status == WorkflowExecutionStatus.COMPLETED else None

    first_run = await eventually(completed, within=60, what="the enrollment to complete")

    outcome = await JobActivities(session_factory, temporal_client, settings).start_enrollments(
        tenant.tenant_id, [enrollment_id]
    )

    assert outcome.started == [enrollment_id] and outcome.failed == []  # it ran: nothing left to start
    described = await handle.describe()
    assert (described.run_id, described.status) == (first_run, WorkflowExecutionStatus.COMPLETED)


async def test_the_sweep_schedule_is_created_once_and_follows_the_interval(temporal_client: Client) -> None:
    # Far apart: the schedule must not fire during the test (every fire sweeps the whole test database).
    try:
        assert await ensure_sweep_schedule(temporal_client, every=timedelta(days=300)) is True
        assert await ensure_sweep_schedule(temporal_client, every=timedelta(days=400)) is False
        described = await temporal_client.get_schedule_handle(SWEEP_SCHEDULE_ID).describe()
        assert described.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(days=400))]
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert described.schedule.action.workflow == "SweepWorkflow"  # type: ignore[union-attr]
    finally:
        await temporal_client.get_schedule_handle(SWEEP_SCHEDULE_ID).delete()

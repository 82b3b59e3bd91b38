"""Due-step bursts: enrollments run on the bulk task queue, and a reply stops their sends even while their workflows
wait behind a burst. Real dev server, PostgreSQL and the WhatsApp sandbox; the session's worker serves the
interactive side (the lead's workflow) throughout.

The bulk side of these tests is a queue of their own, served by workers the test starts and stops: a bulk queue
with no free worker is the limit of a saturated one (nothing on it moves), and it makes the order of events exact.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from core.config import Settings
from core.queues import SEQUENCES_QUEUE
from domain.whatsapp_messages import ENROLLMENT_STOPPED, LEAD_REPLIED
from models import Conversation, Enrollment, Lead, OutboxMessage
from tests.fixtures.whatsapp import eventually
from tests.workflows.sequence_support import ALL_WEEK, SequenceWorld, agent_headers, all_week, lead_writes, make_world
from worker.main import WORKFLOWS, activities, workflow_runner
from workflow_clients.sequence import ANSWER_WITHIN, TASK_TIMEOUT
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import SEND_MESSAGE, EnrollmentStatus, EnrollmentView

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

BURST = 80  # the busy tenant's due sends in the fairness test

SEND_THEN_WAIT = all_week(
    {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
    {"id": "later", "type": "wait", "duration": {"days": 1}},
    {"id": "nudge", "type": "send_whatsapp", "template": {"name": "nudge"}},
)


class BulkSide:
    """The workflow and activity workers of one bulk queue, each started and stopped on its own."""

    def __init__(self, client: Client, settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.client, self.settings, self.session_factory = client, settings, session_factory
        self.queue = f"bulk-test-{uuid.uuid4().hex[:8]}"

    @asynccontextmanager
    async def workflows(self, slots: int = 100) -> AsyncIterator[None]:
        worker = Worker(
            self.client,
            task_queue=self.queue,
            workflows=list(WORKFLOWS),
            workflow_runner=workflow_runner(),
            # A stopped worker's cached workflows go back to the queue at once for the next one.
            sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
            max_concurrent_workflow_tasks=max(slots, 2),
        )
        async with worker:
            yield

    @asynccontextmanager
    async def activities(self, slots: int = 100) -> AsyncIterator[None]:
        async with AsyncExitStack() as resources:
            served = activities(self.settings, self.session_factory, self.client, resources)
            async with Worker(self.client, task_queue=self.queue, activities=served, max_concurrent_activities=slots):
                yield


async def _enroll_on(
    client: Client,
    world: SequenceWorld,
    lead: Lead,
    queue: str,
    start_at: datetime | None = None,
    *,
    definition: dict[str, Any] = SEND_THEN_WAIT,
    with_lead_workflow: bool = True,
) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
    """An enrollment started as the bulk enrollment job starts it, on `queue`."""
    sequence, version = await world.sequence(definition)
    return await world.enroll(
        client, lead, sequence, version, with_lead_workflow=with_lead_workflow, start_at=start_at, task_queue=queue
    )


async def _pending_activity(handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> str | None:
    pending = (await handle.describe()).raw_description.pending_activities
    return pending[0].activity_type.name if pending else None


async def _refused_send(session_factory: async_sessionmaker[AsyncSession], lead: Lead) -> OutboxMessage:
    """The lead's outbox row, once its send was refused (`failed`)."""

    async def refused() -> OutboxMessage | None:
        async with session_factory() as session:
            return await session.scalar(
                select(OutboxMessage).where(OutboxMessage.lead_id == lead.id, OutboxMessage.state == "failed")
            )

    return await eventually(refused)


async def test_an_enrollment_runs_on_the_bulk_queue(temporal_client: Client, world: SequenceWorld) -> None:
    lead = await world.lead()
    sequence, version = await world.sequence(SEND_THEN_WAIT)
    handle = await world.enroll(temporal_client, lead, sequence, version)
    assert (await handle.describe()).task_queue == SEQUENCES_QUEUE
    await eventually(lambda: world.sent_to(lead))  # and it runs there: its first step sent


async def test_an_enrollments_workflow_task_times_out_well_inside_the_apis_answer_time(
    temporal_client: Client, world: SequenceWorld
) -> None:
    """A task the uncached bulk worker drops comes back at the task timeout: a pause or stop waiting behind it must
    still be answered within the API's ANSWER_WITHIN."""
    lead = await world.lead()
    sequence, version = await world.sequence(SEND_THEN_WAIT)
    handle = await world.enroll(temporal_client, lead, sequence, version)
    config = (await handle.describe()).raw_description.execution_config
    assert config.default_workflow_task_timeout.ToTimedelta() == TASK_TIMEOUT < ANSWER_WITHIN / 2


async def test_a_reply_stops_the_send_of_an_enrollment_whose_workflow_waits_behind_a_full_bulk_queue(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    bulk = BulkSide(temporal_client, settings, session_factory)
    lead = await world.lead()
    handle = await _queued_due_send(bulk, temporal_client, world, lead)
    # No workflow worker either: the enrollment's workflow cannot hear of the reply.

    # The reply path: the inbound message stored (the dispatcher's transaction), then told to the lead's workflow.
    replied_at = await lead_writes(temporal_client, world, lead, "No thanks")
    lead_handle = temporal_client.get_workflow_handle_for(
        LeadWorkflow.run, lead_workflow_id(world.tenant.slug, str(lead.id))
    )
    # The stop is recorded at once, and the interactive side handles the reply while the bulk side stands still.
    async with session_factory() as session:
        stored = await session.scalar(select(Conversation.last_inbound_at).where(Conversation.lead_id == lead.id))
    assert stored == replied_at

    async def lead_heard() -> bool:
        return (await lead_handle.query(LeadWorkflow.view)).last_inbound_at == replied_at

    await eventually(lead_heard, within_seconds=2)

    async with bulk.activities():
        # The queued send runs first, before its workflow heard of the reply: the stored reply stops it.
        row = await _refused_send(session_factory, lead)
        assert row.error_code == LEAD_REPLIED
        async with bulk.workflows():
            view = await handle.result()
    assert (view.status, view.exit_reason, view.replies) == (EnrollmentStatus.EXITED, "replied", 1)
    assert [(h.step_id, h.result) for h in view.history] == [("intro", "replied")]
    assert await world.sent_to(lead) == []


async def _queued_due_send(
    bulk: BulkSide, client: Client, world: SequenceWorld, lead: Lead
) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
    """An enrollment on `bulk`'s queue whose first send is due and scheduled, with no worker left to run anything:
    the send and the workflow's next task wait in the queue, as behind a burst."""
    async with bulk.workflows():
        async with bulk.activities():
            due = datetime.now(UTC) + timedelta(seconds=5)  # time to fall asleep, even on a busy machine
            handle = await _enroll_on(client, world, lead, bulk.queue, due)

            async def sleeping() -> bool:
                # Asleep on the timer: the row says so and no bookkeeping activity is still to run.
                row = await world.enrollment_row(uuid.UUID(handle.id.rsplit(":", 1)[1]))
                return row.revision > 0 and row.next_action_at is not None and await _pending_activity(handle) is None

            await eventually(sleeping)
        # No activity worker now: the send, once due, is scheduled and waits in the queue.
        await eventually(lambda: _pending_activity(handle), within_seconds=20)
        assert await _pending_activity(handle) == SEND_MESSAGE
    return handle


async def test_a_stop_through_the_api_holds_the_queued_send_of_an_enrollment_behind_a_full_bulk_queue(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    """An agent stops an enrollment whose send is already queued: the API records the stop before its update (which
    waits behind the queue), the send runs first and sends nothing, and the enrollment ends `stopped` by that agent;
    the stop update, when it arrives, finds it applied."""
    bulk = BulkSide(temporal_client, settings, session_factory)
    lead = await world.lead()
    handle = await _queued_due_send(bulk, temporal_client, world, lead)
    enrollment_id = handle.id.rsplit(":", 1)[1]
    headers = await agent_headers(world)

    stopping = asyncio.create_task(
        client.post(f"/api/v1/enrollments/{enrollment_id}/stop", json={"reason": "asked us to"}, headers=headers)
    )

    async def recorded() -> bool:
        return (await world.enrollment_row(uuid.UUID(enrollment_id))).stop_requested_at is not None

    await eventually(recorded, within_seconds=5)  # committed before the update, which nothing on the queue answers

    async with bulk.activities():
        row = await _refused_send(session_factory, lead)
        assert row.error_code == ENROLLMENT_STOPPED
        async with bulk.workflows():
            view = await handle.result()
            answer = await stopping
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "stopped"
    assert (view.status, view.exit_reason) == (EnrollmentStatus.STOPPED, "stopped")
    assert view.exit_detail is not None and "asked us to" in view.exit_detail
    assert [(h.step_id, h.result) for h in view.history] == [("intro", "stopped")]
    assert await world.sent_to(lead) == []


async def test_a_pause_through_the_api_holds_the_queued_send_until_the_resume(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    """A pause recorded by the API holds a send already queued behind the bulk queue; the send goes out once the
    agent resumes, once."""
    bulk = BulkSide(temporal_client, settings, session_factory)
    lead = await world.lead()
    handle = await _queued_due_send(bulk, temporal_client, world, lead)
    url = f"/api/v1/enrollments/{handle.id.rsplit(':', 1)[1]}"
    headers = await agent_headers(world)

    pausing = asyncio.create_task(client.post(f"{url}/pause", headers=headers))
    await eventually(lambda: _pause_recorded(world, handle), within_seconds=5)
    async with bulk.activities():
        # The queued send runs before the workflow hears of the pause: held, nothing sent, the row still pending.
        async def held() -> bool:
            return await _pending_activity(handle) is None

        await eventually(held)
        assert await world.sent_to(lead) == []
        async with bulk.workflows():
            assert (await pausing).status_code == 200
            assert (await handle.query(SequenceWorkflow.view)).status == EnrollmentStatus.PAUSED
            assert await world.sent_to(lead) == []
            resumed = await client.post(f"{url}/resume", headers=headers)
            assert resumed.status_code == 200, resumed.text
            await eventually(lambda: world.sent_to(lead))
    assert len(await world.sent_to(lead)) == 1


async def _pause_recorded(world: SequenceWorld, handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> bool:
    return (await world.enrollment_row(uuid.UUID(handle.id.rsplit(":", 1)[1]))).pause_requested_at is not None


async def test_one_tenants_burst_does_not_starve_another_tenants_single_due_send(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    """A backlog of one tenant's due enrollments queued first, then another tenant's one (as when a burst's timers
    fire a moment before): the bulk side, two tasks at a time, takes the other tenant's first, not after the burst,
    and its send goes out."""
    bulk = BulkSide(temporal_client, settings, session_factory)
    other = await make_world(session_factory, settings, sandbox_control)
    single = {
        "steps": [{"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}}],
        "settings": {"business_hours": ALL_WEEK},
    }
    busy = []
    for _ in range(BURST):
        lead = await world.lead()
        busy.append(
            await _enroll_on(temporal_client, world, lead, bulk.queue, definition=single, with_lead_workflow=False)
        )
    lonely_lead = await other.lead()
    lonely = await _enroll_on(
        temporal_client, other, lonely_lead, bulk.queue, definition=single, with_lead_workflow=False
    )

    async with bulk.workflows(slots=2), bulk.activities(slots=1):
        await eventually(lambda: other.sent_to(lonely_lead), within_seconds=120)

    async def first_task_at(handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> datetime | None:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                return event.event_time.ToDatetime(tzinfo=UTC)
        return None  # not run yet

    lonely_at = await first_task_at(lonely)
    assert lonely_at is not None
    ahead = [handle for handle in busy if (at := await first_task_at(handle)) is not None and at < lonely_at]
    # First in, first out (no fairness key), all 80 ran first; with the key, 1.
    assert len(ahead) < 10, f"{len(ahead)} of the burst's {BURST} enrollments ran before the other tenant's"


async def test_a_due_send_costs_two_workflow_tasks_and_one_activity_and_the_row_shows_the_wait(
    temporal_client: Client, world: SequenceWorld
) -> None:
    """From the timer that makes a send due to the timer of the wait after it: the send with its bookkeeping is one
    activity, and the row and step history still show what the workflow did."""
    lead = await world.lead()
    sequence, version = await world.sequence(SEND_THEN_WAIT)
    handle = await world.enroll(
        temporal_client, lead, sequence, version, start_at=datetime.now(UTC) + timedelta(seconds=2)
    )
    enrollment_id = uuid.UUID(handle.id.rsplit(":", 1)[1])

    async def waiting() -> Enrollment | None:
        row = await world.enrollment_row(enrollment_id)
        return row if row.current_step_id == "later" and row.steps_run == 2 else None

    row = await eventually(waiting)  # written by the send itself, before the workflow starts the wait's timer

    async def up_to_the_wait() -> list[str] | None:
        kinds = [EventType.Name(event.event_type) async for event in handle.fetch_history_events()]
        fired = kinds.index("EVENT_TYPE_TIMER_FIRED")
        if "EVENT_TYPE_TIMER_STARTED" not in kinds[fired:]:
            return None
        return kinds[fired : kinds.index("EVENT_TYPE_TIMER_STARTED", fired)]

    between = await eventually(up_to_the_wait)
    assert between.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") == 2, between
    assert between.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") == 1, between
    assert row.next_action_at is not None and row.next_action_at > datetime.now(UTC) + timedelta(hours=23)
    assert [(s.step_id, s.result) for s in await world.step_rows(enrollment_id)] == [
        ("intro", "sent"),
        ("later", "waiting"),
    ]
    assert len(await world.sent_to(lead)) == 1

"""Scheduled sends: an enrollment writes a send it plans ahead for the drain and sleeps past it; the drain sends it
when it falls due, without waking the workflow; the workflow reads the outcome when it wakes. Real dev server,
PostgreSQL and the WhatsApp sandbox; the session's worker (both queues, so it runs the drain) serves everything.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment

from activities.sequences import SequenceActivities
from core.config import Settings
from models import Conversation, DailySendCount, Enrollment, EnrollmentStep, Lead, ScheduledSend
from repositories.enrollments import EnrollmentRepository
from repositories.scheduled_sends import ScheduledSendRepository
from tests.fixtures.whatsapp import eventually
from tests.workflows.sequence_support import SequenceWorld, agent_headers, all_week, lead_writes, make_world
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import (
    SCHEDULE_SEND,
    SEND_MESSAGE,
    SETTLE_SCHEDULED_SEND,
    EnrollmentStatus,
    EnrollmentView,
    ScheduledSendOutcome,
    ScheduledSendState,
    SendFailure,
)

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

SEND_THEN_WAIT = all_week(
    {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
    {"id": "later", "type": "wait", "duration": {"days": 1}},
    {"id": "nudge", "type": "send_whatsapp", "template": {"name": "nudge"}},
)
ONE_SEND = all_week({"id": "only", "type": "send_whatsapp", "template": {"name": "only"}})


@pytest.fixture
async def scheduled(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, sandbox_control: object
) -> SequenceWorld:
    """A sandbox tenant whose enrollments start with scheduled sends (as `./run up` and production start them)."""
    world = await make_world(session_factory, settings, sandbox_control)  # type: ignore[arg-type]
    world.settings = settings.model_copy(update={"sequence_scheduled_sends": True})
    return world


def _enrollment_id(handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> uuid.UUID:
    return uuid.UUID(handle.id.rsplit(":", 1)[1])


async def _history(handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> list[object]:
    return [event async for event in handle.fetch_history_events()]


async def _activities(handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name  # type: ignore[attr-defined]
        for e in await _history(handle)
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED  # type: ignore[attr-defined]
    ]


async def _row(session_factory: async_sessionmaker[AsyncSession], enrollment_id: uuid.UUID) -> ScheduledSend | None:
    async with session_factory() as session:
        return await session.scalar(
            select(ScheduledSend).where(ScheduledSend.enrollment_id == enrollment_id).order_by(ScheduledSend.created_at)
        )


async def _asleep_with_send_written(
    world: SequenceWorld, handle: WorkflowHandle[SequenceWorkflow, EnrollmentView]
) -> None:
    async def written() -> bool:
        return await _row(world.session_factory, _enrollment_id(handle)) is not None

    await eventually(written)


async def _enrolled_asleep(
    client: Client, world: SequenceWorld, definition: dict[str, object], due: datetime
) -> tuple[Lead, WorkflowHandle[SequenceWorkflow, EnrollmentView]]:
    """A new lead enrolled with its first send due at `due`, once the send is written ahead."""
    lead = await world.lead()
    sequence, version = await world.sequence(definition)
    handle = await world.enroll(client, lead, sequence, version, start_at=due)
    await _asleep_with_send_written(world, handle)
    return lead, handle


async def _row_written(
    session: AsyncSession, world: SequenceWorld, due_at: datetime, *, ended_at: datetime | None = None, **state: object
) -> str:
    """A bare scheduled-send row (its enrollment's workflow never started), in `session`; its key."""
    lead = await world.lead()
    seq, ver = await world.sequence(ONE_SEND)
    enrollment_id, workflow_id = uuid.uuid4(), f"enrollment:test:{uuid.uuid4()}"
    session.add(
        Enrollment(
            id=enrollment_id, tenant_id=world.tenant.id, lead_id=lead.id, sequence_id=seq.id,
            sequence_version_id=ver.id, workflow_id=workflow_id, status="active" if ended_at is None else "completed",
            ended_at=ended_at, enrolled_by="user:test",
        )
    )  # fmt: skip
    await session.flush()
    key = f"row-test-{uuid.uuid4()}"
    await ScheduledSendRepository(session).schedule(
        tenant_id=world.tenant.id, enrollment_id=enrollment_id, workflow_id=workflow_id, key=key, due_at=due_at,
        due={}, signal_when_settled=False,
    )  # fmt: skip
    if state:
        await session.execute(update(ScheduledSend).where(ScheduledSend.key == key).values(**state))
    return key


async def test_a_send_planned_ahead_goes_out_from_the_drain_while_its_workflow_sleeps(
    temporal_client: Client, scheduled: SequenceWorld
) -> None:
    due = datetime.now(UTC) + timedelta(seconds=3)
    lead, handle = await _enrolled_asleep(temporal_client, scheduled, SEND_THEN_WAIT, due)

    [message] = await eventually(lambda: scheduled.sent_to(lead))
    accepted_at = datetime.fromisoformat(message["accepted_at"].replace("Z", "+00:00"))
    assert accepted_at >= due
    # The drain wrote the step rows and the enrollment row as the workflow will have them when it wakes.
    enrollment_id = _enrollment_id(handle)

    async def row_at_the_wait() -> Enrollment | None:
        row = await scheduled.enrollment_row(enrollment_id)
        return row if row.current_step_id == "later" else None

    row = await eventually(row_at_the_wait)
    assert (row.status, row.steps_run) == ("active", 2)
    assert [(s.step_id, s.result) for s in await scheduled.step_rows(enrollment_id)] == [
        ("intro", "sent"),
        ("later", "waiting"),
    ]
    settled = await _row(scheduled.session_factory, enrollment_id)
    assert settled is not None and settled.state == "done" and settled.outcome is not None
    assert settled.outcome["state"] == "sent"
    # ... and the workflow slept through it: it neither sent nor woke to read the outcome (it wakes before the
    # next send, a day later).
    await asyncio.sleep(1.0)
    ran = await _activities(handle)
    assert SEND_MESSAGE not in ran and SETTLE_SCHEDULED_SEND not in ran
    assert ran.count(SCHEDULE_SEND) == 1


async def test_a_sequences_last_send_wakes_its_workflow_to_complete(
    temporal_client: Client, scheduled: SequenceWorld
) -> None:
    lead = await scheduled.lead()
    sequence, version = await scheduled.sequence(ONE_SEND)
    handle = await scheduled.enroll(
        temporal_client, lead, sequence, version, start_at=datetime.now(UTC) + timedelta(seconds=2)
    )
    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert view.status == EnrollmentStatus.COMPLETED
    assert [(h.step_id, h.result) for h in view.history] == [("only", "sent")]
    assert len(await scheduled.sent_to(lead)) == 1
    assert SEND_MESSAGE not in await _activities(handle)


async def test_a_drained_send_counts_once_against_the_day_even_when_its_drain_could_not(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The drain counts an uncapped send against the tenant's day after storing it; the workflow's settle offers the
    count again (a drain that died in between left it uncounted), and the step is counted once either way."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, ONE_SEND, datetime.now(UTC) + timedelta(seconds=2)
    )
    await asyncio.wait_for(handle.result(), timeout=30)

    async def counted() -> int:
        async with session_factory() as session:
            found = await session.scalar(select(DailySendCount.sent).where(DailySendCount.tenant_id == lead.tenant_id))
            return int(found or 0)

    assert await counted() == 1  # the drain's count, and the settle's again: once
    # As a drain that died after storing the send would have left it: the step uncounted, the day one short.
    enrollment_id = _enrollment_id(handle)
    async with session_factory() as session:
        await session.execute(
            update(EnrollmentStep)
            .where(EnrollmentStep.enrollment_id == enrollment_id, EnrollmentStep.result == "sent")
            .values(data=EnrollmentStep.data.op("-")("counted"))
        )
        await session.execute(
            update(DailySendCount)
            .where(DailySendCount.tenant_id == lead.tenant_id)
            .values(sent=DailySendCount.sent - 1)
        )
        await session.commit()
    row = await _row(session_factory, enrollment_id)
    assert row is not None
    settle = SequenceActivities(session_factory, temporal_client).settle_scheduled_send
    outcome = await ActivityEnvironment().run(settle, row.key)
    assert outcome.state == ScheduledSendState.SENT
    assert await counted() == 1


async def test_a_reply_before_the_send_takes_it_back_and_nothing_goes_out(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, SEND_THEN_WAIT, datetime.now(UTC) + timedelta(seconds=30)
    )

    await lead_writes(temporal_client, scheduled, lead, "No thanks")
    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "replied")
    row = await _row(session_factory, _enrollment_id(handle))
    assert row is not None and row.state == "cancelled"
    assert await scheduled.sent_to(lead) == []


async def test_a_refusal_at_the_send_wakes_the_workflow_at_once(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The lead opted out while the enrollment slept (its signal lost, say): the drain's send is refused, and the
    workflow hears of it from the drain, not a day later."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, SEND_THEN_WAIT, datetime.now(UTC) + timedelta(seconds=6)
    )
    async with session_factory() as session:
        session.add(Conversation(tenant_id=scheduled.tenant.id, lead_id=lead.id, opted_out_at=datetime.now(UTC)))
        await session.commit()

    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "opted_out")
    assert [(h.step_id, h.result) for h in view.history][-1][0] == "intro"
    assert await scheduled.sent_to(lead) == []
    row = await _row(session_factory, _enrollment_id(handle))
    assert row is not None and row.outcome is not None and row.outcome["state"] == "failed"


async def test_a_lead_at_an_exit_stage_gets_no_send_though_its_enrollment_has_not_heard(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The lead was won while the enrollment slept, and the stage change's signal has not reached the enrollment: the
    drain's send is refused at the outbox, and the enrollment exits as the signal would have made it."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, SEND_THEN_WAIT, datetime.now(UTC) + timedelta(seconds=6)
    )
    async with session_factory() as session:
        await session.execute(update(Lead).where(Lead.id == lead.id).values(stage="won"))
        await session.commit()

    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "stage:won")
    assert [(h.step_id, h.result) for h in view.history] == [("intro", "exited")]
    assert await scheduled.sent_to(lead) == []


async def test_a_throttled_send_is_put_back_and_goes_out_once_when_the_provider_lets_it(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The provider answers 429 (Retry-After: 1) twice: the drain puts the send back for the delay it names, not for
    its lease, and the third attempt sends it once."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, SEND_THEN_WAIT, datetime.now(UTC) + timedelta(seconds=4)
    )
    fault = await scheduled.sandbox.post("/_sandbox/faults", json={"kind": "http_429", "to": lead.phone, "count": 2})
    assert fault.status_code == 201, fault.text

    async def settled() -> ScheduledSend | None:
        row = await _row(session_factory, _enrollment_id(handle))
        return row if row is not None and row.state == "done" else None

    row = await eventually(settled, within_seconds=30)
    assert row.outcome is not None and row.outcome["state"] == "sent"
    assert row.attempts == 3
    # Each retry moved the row on; the give-up clock stayed.
    assert row.first_due_at is not None and row.first_due_at < row.due_at
    assert len(await scheduled.sent_to(lead)) == 1


async def test_a_send_throttled_past_the_give_up_limit_fails_and_the_enrollment_goes_on(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A send throttled since it first fell due, hours ago (each retry moved its `due_at` on): the next refusal is
    the last, the step is recorded failed, and the workflow hears of it at once."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, ONE_SEND, datetime.now(UTC) + timedelta(seconds=5)
    )
    async with session_factory() as session:
        await session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.enrollment_id == _enrollment_id(handle))
            .values(first_due_at=datetime.now(UTC) - timedelta(hours=7))
        )
        await session.commit()
    fault = await scheduled.sandbox.post("/_sandbox/faults", json={"kind": "http_429", "to": lead.phone})
    assert fault.status_code == 201, fault.text

    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert view.status == EnrollmentStatus.COMPLETED
    assert [(h.step_id, h.result) for h in view.history] == [("only", "failed")]
    row = await _row(session_factory, _enrollment_id(handle))
    assert row is not None and row.outcome is not None
    assert (row.outcome["state"], row.outcome["failure"]["kind"]) == ("failed", "WhatsAppThrottled")
    assert await scheduled.sent_to(lead) == []


async def test_over_the_daily_cap_the_drain_defers_the_send_and_the_workflow_plans_it_for_the_next_day(
    temporal_client: Client, scheduled: SequenceWorld
) -> None:
    capped = all_week(
        {"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}}, daily_cap={"whatsapp": 1}
    )
    sequence, version = await scheduled.sequence(capped)
    due = datetime.now(UTC) + timedelta(seconds=3)
    first, second = await scheduled.lead(), await scheduled.lead()
    handles = [
        await scheduled.enroll(temporal_client, lead, sequence, version, start_at=due) for lead in (first, second)
    ]

    async def one_deferred_to_tomorrow() -> list[EnrollmentView] | None:
        # The deferral is recorded (and mirrored) before the send is planned again: wait for both.
        views = [await h.query(SequenceWorkflow.view) for h in handles]
        results = sorted(r.result for v in views for r in v.history)
        later = [v for v in views if v.next_action_at and v.next_action_at > datetime.now(UTC) + timedelta(hours=1)]
        return views if results == ["deferred", "sent"] and later else None

    views = await eventually(one_deferred_to_tomorrow, within_seconds=30)
    [waiting] = [v for v in views if v.status == EnrollmentStatus.ACTIVE]
    assert waiting.next_action_at is not None and waiting.next_action_at > datetime.now(UTC) + timedelta(hours=1)

    async def written_again() -> ScheduledSend | None:
        row = await _row(scheduled.session_factory, waiting.enrollment_id)
        return row if row is not None and row.state == "scheduled" else None

    # The same send, written ahead again for the next day's opening.
    again = await eventually(written_again)
    assert again.due_at == waiting.next_action_at
    assert [len(await scheduled.sent_to(lead)) for lead in (first, second)].count(1) == 1


async def test_the_drain_takes_tenants_in_turn_and_a_lapsed_lease_back(
    session_factory: async_sessionmaker[AsyncSession], scheduled: SequenceWorld
) -> None:
    """Claims are fair between tenants: another tenant's one due send comes in the first claim after a burst of one
    tenant's. A claim whose drain died is claimed again once its lease runs out, or taken back by its workflow; a
    cancelled send is never claimed.

    The rows live in one transaction that is rolled back, out of the running drain's sight; due long ago, they come
    before any other due row in a claim."""
    other = await make_world(session_factory, scheduled.settings, scheduled.sandbox)
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    async with session_factory() as session, session.begin():
        repo = ScheduledSendRepository(session)

        async def send(world: SequenceWorld, n: int, **state: Any) -> str:
            return await _row_written(session, world, long_ago + timedelta(seconds=n), **state)

        burst = [await send(scheduled, n) for n in range(6)]
        lonely = await send(other, 10)
        first = {row.key for row in await repo.claim(limit=2, lease=timedelta(minutes=2))}
        assert first == {burst[0], lonely}

        lapsed = await send(scheduled, 20, state="sending", lease_until=long_ago)
        held = await send(scheduled, 21, state="sending", lease_until=datetime.now(UTC) + timedelta(minutes=1))
        cancelled = await send(scheduled, 22, state="cancelled")
        rest = {row.key for row in await repo.claim(limit=50, lease=timedelta(minutes=2))}
        assert {*burst[1:], lapsed} <= rest
        assert not {held, cancelled, burst[0], lonely} & rest
        # Written again after a cancel, a send is due again; one already claimed keeps its state.
        cancelled_row = await repo.take_back(key=cancelled)
        assert cancelled_row is not None and cancelled_row.state == "cancelled"
        again = await repo.schedule(
            tenant_id=scheduled.tenant.id, enrollment_id=cancelled_row.enrollment_id, workflow_id="w", key=cancelled,
            due_at=long_ago, due={}, signal_when_settled=False,
        )  # fmt: skip
        claimed_row = await repo.take_back(key=burst[1])
        assert claimed_row is not None
        assert (again, claimed_row.state) == ("scheduled", "sending")
        # A row whose drain's lease ran out long ago, not claimed again, is taken back: its workflow sends it itself.
        gone = await send(scheduled, 23, state="sending", lease_until=long_ago)
        gone_row = await repo.take_back(key=gone)
        assert gone_row is not None and gone_row.state == "cancelled"
        # One whose lease ran out only just now may be a slow drain still at it: the workflow waits for it.
        just_lapsed = datetime.now(UTC) - timedelta(seconds=30)
        slow = await send(scheduled, 24, state="sending", lease_until=just_lapsed)
        for key in (held, slow):
            row = await repo.take_back(key=key)
            assert row is not None and row.state == "sending"
        await session.rollback()


async def test_claims_and_drained_counts_commit_without_waiting_for_the_wal_flush(
    session_factory: async_sessionmaker[AsyncSession], scheduled: SequenceWorld
) -> None:
    """A claim and a drained send's daily count are redone if a crash loses them (the rows claimed again, the count
    offered again by the settle), so their commits do not wait for the WAL flush; any other count's commit keeps the
    server's setting (here one that waits for a standby too)."""
    async with session_factory() as session, session.begin():
        await ScheduledSendRepository(session).claim(limit=1, lease=timedelta(minutes=2))
        assert await session.scalar(text("SHOW synchronous_commit")) == "off"
        await session.rollback()
    for durable, mode in ((True, "remote_write"), (False, "off")):
        async with session_factory() as session, session.begin():
            await session.execute(text("SET LOCAL synchronous_commit = remote_write"))
            await EnrollmentRepository(session).count_sent_once(
                tenant_id=scheduled.tenant.id, enrollment_id=uuid.uuid4(), number=1, channel="whatsapp",
                day=datetime.now(UTC).date(), durable=durable,
            )  # fmt: skip
            assert await session.scalar(text("SHOW synchronous_commit")) == mode
            await session.rollback()


async def test_rows_no_workflow_reads_again_are_pruned_after_the_retention(
    session_factory: async_sessionmaker[AsyncSession], scheduled: SequenceWorld
) -> None:
    """Rows of an enrollment that ended long ago, and a send taken back long ago, go; a live enrollment's rows, an
    ended one's signal still due, and a recent end stay. In a transaction rolled back, out of the drain's sight."""
    long_ago, now = datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC)
    async with session_factory() as session, session.begin():
        repo = ScheduledSendRepository(session)

        async def send(*, ended_at: datetime | None, **state: object) -> str:
            return await _row_written(session, scheduled, long_ago, ended_at=ended_at, **state)

        ended = await send(ended_at=long_ago, state="done")
        taken_back = await send(ended_at=None, state="cancelled")
        live = await send(ended_at=None, state="done")
        telling = await send(ended_at=long_ago, state="done", signal_due=True)
        recent = await send(ended_at=now, state="done")
        while await repo.prune(keep=timedelta(hours=72), limit=1000):
            pass
        keys = (await session.scalars(select(ScheduledSend.key).where(ScheduledSend.key.like("row-test-%")))).all()
        assert set(keys) == {live, telling, recent}
        assert not {ended, taken_back} & set(keys)
        await session.rollback()


async def test_a_signal_the_drain_never_sent_is_sent_by_the_next_drain(
    temporal_client: Client, scheduled: SequenceWorld, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A drain settled the last send (refused) and died before telling the workflow, which sleeps an hour past it:
    the outcome's signal is still due on the row, and the running drain sends it."""
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, ONE_SEND, datetime.now(UTC) + timedelta(minutes=5)
    )
    row = await _row(session_factory, _enrollment_id(handle))
    assert row is not None
    refused = ScheduledSendOutcome(
        key=row.key,
        state=ScheduledSendState.FAILED,
        failure=SendFailure(kind="LeadOptedOut", message="the lead opted out; nothing was sent"),
    )
    async with session_factory() as session:
        await session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.id == row.id)
            .values(
                state="done",
                outcome=refused.model_dump(mode="json"),
                signal_due=True,
                settled_at=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
        await session.commit()

    view = await asyncio.wait_for(handle.result(), timeout=40)
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "opted_out")
    told = await _row(session_factory, _enrollment_id(handle))
    assert told is not None and not told.signal_due
    assert await scheduled.sent_to(lead) == []


async def test_a_stop_through_the_api_takes_the_written_send_back(
    temporal_client: Client, scheduled: SequenceWorld, client: httpx.AsyncClient
) -> None:
    lead, handle = await _enrolled_asleep(
        temporal_client, scheduled, SEND_THEN_WAIT, datetime.now(UTC) + timedelta(seconds=30)
    )
    answer = await client.post(
        f"/api/v1/enrollments/{_enrollment_id(handle)}/stop",
        json={"reason": "asked us to"},
        headers=await agent_headers(scheduled),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "stopped"
    view = await asyncio.wait_for(handle.result(), timeout=30)
    assert (view.status, view.exit_reason) == (EnrollmentStatus.STOPPED, "stopped")
    row = await _row(scheduled.session_factory, _enrollment_id(handle))
    assert row is not None and row.state == "cancelled"
    assert await scheduled.sent_to(lead) == []


async def test_a_send_paused_past_its_time_goes_out_once_after_the_resume(
    temporal_client: Client, scheduled: SequenceWorld, client: httpx.AsyncClient
) -> None:
    due = datetime.now(UTC) + timedelta(seconds=4)
    lead, handle = await _enrolled_asleep(temporal_client, scheduled, SEND_THEN_WAIT, due)
    url, headers = f"/api/v1/enrollments/{_enrollment_id(handle)}", await agent_headers(scheduled)
    paused = await client.post(f"{url}/pause", headers=headers)
    assert paused.status_code == 200, paused.text
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 2)
    assert await scheduled.sent_to(lead) == []  # paused through its time: nothing went out
    resumed = await client.post(f"{url}/resume", headers=headers)
    assert resumed.status_code == 200, resumed.text

    await eventually(lambda: scheduled.sent_to(lead))

    async def waiting_for_the_next_send() -> EnrollmentView | None:
        # The wait begun, the send after it written ahead: the enrollment's next action is that send.
        view = await handle.query(SequenceWorkflow.view)
        return view if view.current_step_id == "nudge" else None

    view = await eventually(waiting_for_the_next_send)
    assert [(h.step_id, h.result) for h in view.history] == [("intro", "sent"), ("later", "waiting")]
    assert view.next_action_at is not None and view.next_action_at > datetime.now(UTC) + timedelta(hours=23)
    await asyncio.sleep(1.0)
    assert len(await scheduled.sent_to(lead)) == 1

"""SequenceActivities against PostgreSQL: each is safe to run twice, the mirror keeps the newest state, and the daily
cap holds under concurrent reservations of one tenant day."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.sequences import SequenceActivities
from core.config import Settings
from domain.sequences.definition import SequenceDefinition
from domain.stages import Stage
from models import Enrollment, EnrollmentStep, Lead, Sequence, SequenceVersion, Task, TimelineEvent, User
from repositories.enrollments import EnrollmentRepository
from tests.fixtures.workflow_calls import lead_workflows
from tests.workflows.support import make_lead, make_tenant
from workflows.sequence_types import (
    DailySendReservation,
    EnrollmentMirror,
    EnrollmentStatus,
    EnrollmentView,
    LeadStatusToSet,
    OverdueTask,
    StepRecord,
    TaskToClose,
    TaskToCreate,
)

DEFINITION = SequenceDefinition.model_validate(
    {"steps": [{"type": "send_whatsapp", "template": {"name": "hi"}}], "settings": {"daily_cap": {"whatsapp": 3}}}
)
# A Wednesday noon in UTC: inside the default Mon-Fri 09:00-18:00 window in London.
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def _enrollments(
    session_factory: async_sessionmaker[AsyncSession], count: int
) -> tuple[uuid.UUID, list[Enrollment], Lead]:
    tenant, owner = await make_tenant(session_factory)
    lead = await make_lead(session_factory, tenant, owner=owner)
    async with session_factory() as session:
        sequence = Sequence(tenant_id=tenant.id, name="s", status="active", definition={}, created_by="t")
        session.add(sequence)
        await session.flush()
        version = SequenceVersion(
            tenant_id=tenant.id, sequence_id=sequence.id, version=1, definition={}, published_by="t"
        )
        session.add(version)
        await session.flush()
        rows = []
        for _ in range(count):
            enrollment_id = uuid.uuid4()
            row = Enrollment(
                id=enrollment_id,
                tenant_id=tenant.id,
                lead_id=lead.id,
                sequence_id=sequence.id,
                sequence_version_id=version.id,
                workflow_id=f"enrollment:{tenant.slug}:{enrollment_id}",
                status="completed",  # not open: many per lead are allowed
            )
            session.add(row)
            rows.append(row)
        await session.commit()
    return tenant.id, rows, lead


ENROLLMENT_KEYS = ("tenant_id", "lead_id", "sequence_id", "sequence_version_id")


def _view(row: Enrollment, revision: int, status: EnrollmentStatus, step_id: str) -> EnrollmentView:
    """The workflow's view of the enrollment `row` at `revision`."""
    keys = {name: getattr(row, name) for name in ENROLLMENT_KEYS}
    return EnrollmentView(
        enrollment_id=row.id, **keys, status=status, current_step_id=step_id, started_at=NOON, revision=revision
    )


@pytest.fixture
def acts(session_factory: async_sessionmaker[AsyncSession], temporal_client: Client) -> SequenceActivities:
    return SequenceActivities(session_factory, temporal_client)


async def test_the_mirror_keeps_the_newest_revision_and_records_a_step_once(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, (row,), _ = await _enrollments(session_factory, 1)
    step = StepRecord(
        number=1, index=0, step_id="hi", type="send_whatsapp", planned_at=NOON, fired_at=NOON, result="sent"
    )
    newer = EnrollmentMirror(view=_view(row, 5, EnrollmentStatus.PAUSED, "hi"), step=step)
    older = EnrollmentMirror(view=_view(row, 4, EnrollmentStatus.ACTIVE, "hi"), step=step)
    env = ActivityEnvironment()
    await env.run(acts.mirror_enrollment, newer)
    await env.run(acts.mirror_enrollment, older)  # late: ignored
    await env.run(acts.mirror_enrollment, newer)  # repeated: no second step row
    async with session_factory() as session:
        stored = await session.get(Enrollment, row.id)
        steps = (await session.execute(select(EnrollmentStep).where(EnrollmentStep.enrollment_id == row.id))).all()
    assert stored is not None and (stored.status, stored.revision) == ("paused", 5)
    assert len(steps) == 1


async def test_a_send_deferred_twice_keeps_both_deferrals_and_a_retried_mirror_counts_once(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, (row,), _ = await _enrollments(session_factory, 1)

    def deferral(times: int, revision: int) -> EnrollmentMirror:
        at = NOON + timedelta(days=times - 1)
        step = StepRecord(
            number=1,
            index=0,
            step_id="hi",
            type="send_whatsapp",
            planned_at=at,
            fired_at=at,
            result="deferred",
            detail=f"deferral {times}",
            times=times,
        )
        return EnrollmentMirror(view=_view(row, revision, EnrollmentStatus.ACTIVE, "hi"), step=step)

    env = ActivityEnvironment()
    for mirror in (deferral(1, 2), deferral(2, 3), deferral(2, 3), deferral(1, 2)):  # retried and late writes too
        await env.run(acts.mirror_enrollment, mirror)
    async with session_factory() as session:
        (stored,) = (
            await session.execute(select(EnrollmentStep).where(EnrollmentStep.enrollment_id == row.id))
        ).scalars()
        counts = await EnrollmentRepository(session).step_result_counts(
            tenant_id=row.tenant_id, sequence_id=row.sequence_id
        )
    assert (stored.detail, stored.fired_at) == ("deferral 2", NOON + timedelta(days=1))  # the latest deferral
    assert counts == [("hi", "send_whatsapp", "deferred", 2)]


async def test_mirroring_an_enrollment_whose_lead_was_deleted_is_a_quiet_no_op(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, (row,), lead = await _enrollments(session_factory, 1)
    async with session_factory() as session:
        await session.delete(await session.get(Lead, lead.id))  # the enrollment row goes with it (cascade)
        await session.commit()
    step = StepRecord(
        number=1, index=0, step_id="hi", type="send_whatsapp", planned_at=NOON, fired_at=NOON, result="sent"
    )
    # Before the fix the step insert hit the enrollment's foreign key and the activity failed (and was retried).
    await ActivityEnvironment().run(
        acts.mirror_enrollment, EnrollmentMirror(view=_view(row, 2, EnrollmentStatus.ACTIVE, "hi"), step=step)
    )
    async with session_factory() as session:
        steps = (await session.execute(select(EnrollmentStep).where(EnrollmentStep.enrollment_id == row.id))).all()
    assert steps == []


def _first_send_reservation(row: Enrollment, *, at: datetime, cap: int) -> DailySendReservation:
    """The reservation of the enrollment `row`'s first send (step `hi`) under a daily cap of `cap`."""
    return DailySendReservation(
        tenant_id=row.tenant_id,
        enrollment_id=row.id,
        sequence_id=row.sequence_id,
        number=1,
        step_index=0,
        step_id="hi",
        at=at,
        cap=cap,
        tenant_timezone="UTC",
        lead_timezone="Europe/London",
        definition=DEFINITION,
    )


async def test_concurrent_reservations_never_exceed_the_daily_cap_and_a_retry_keeps_its_slot(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    _, rows, _ = await _enrollments(session_factory, 6)

    def reservation(row: Enrollment, at: datetime = NOON) -> DailySendReservation:
        return _first_send_reservation(row, at=at, cap=3)

    decisions = await asyncio.gather(
        *(ActivityEnvironment().run(acts.reserve_daily_send, reservation(r)) for r in rows)
    )
    granted = [r for r, d in zip(rows, decisions, strict=True) if d.granted]
    refused = [d for d in decisions if not d.granted]
    assert len(granted) == 3 and len(refused) == 3
    # Deferred to the lead's first window of the tenant's next day: Thursday 09:00 London (UTC in winter).
    assert {d.defer_until for d in refused} == {datetime(2026, 12, 3, 9, 0, tzinfo=UTC)}
    again = await ActivityEnvironment().run(acts.reserve_daily_send, reservation(granted[0]))
    assert again.granted  # a retried activity keeps the slot it took
    deferred_row = next(r for r, d in zip(rows, decisions, strict=True) if not d.granted)
    tomorrow = await ActivityEnvironment().run(
        acts.reserve_daily_send, reservation(deferred_row, NOON + timedelta(days=1))
    )
    assert tomorrow.granted and tomorrow.sent_today == 1


async def test_parallel_sends_at_cap_minus_one_let_exactly_one_more_go_out(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The day's count comes from the tenant-day counter: an uncapped sequence's send counts too, and of parallel
    reservations when one slot is left exactly one is granted, whatever the interleaving."""
    tenant_id, rows, _ = await _enrollments(session_factory, 12)
    cap = 5
    uncapped, earlier, racing = rows[0], rows[1:4], rows[4:]

    def reservation(row: Enrollment) -> DailySendReservation:
        return _first_send_reservation(row, at=NOON, cap=cap)

    env = ActivityEnvironment()
    sent = StepRecord(
        number=1, index=0, step_id="hi", type="send_whatsapp", planned_at=NOON, fired_at=NOON, result="sent"
    )
    mirror = EnrollmentMirror(view=_view(uncapped, 2, EnrollmentStatus.ACTIVE, "hi"), step=sent)
    await env.run(acts.mirror_enrollment, mirror)
    await env.run(acts.mirror_enrollment, mirror)  # a repeated mirror counts once
    for row in earlier:
        assert (await env.run(acts.reserve_daily_send, reservation(row))).granted
    # 1 uncapped + 3 capped sends today: cap - 1.
    decisions = await asyncio.gather(
        *(ActivityEnvironment().run(acts.reserve_daily_send, reservation(r)) for r in racing)
    )
    assert sum(d.granted for d in decisions) == 1
    assert {d.sent_today for d in decisions} == {cap}
    assert all(d.defer_until == datetime(2026, 12, 3, 9, 0, tzinfo=UTC) for d in decisions if not d.granted)
    async with session_factory() as session:
        counted = await EnrollmentRepository(session).daily_sends(
            tenant_id=tenant_id, channel="whatsapp", day=NOON.date()
        )
        reserved = (
            await session.execute(
                select(EnrollmentStep).where(EnrollmentStep.tenant_id == tenant_id, EnrollmentStep.result == "reserved")
            )
        ).all()
    assert counted == cap and len(reserved) == cap - 1


def _call_ada_task(row: Enrollment, lead: Lead, *, assignee: str) -> TaskToCreate:
    """The task step `call` of the enrollment `row`, due a day after noon."""
    return TaskToCreate(
        tenant_id=row.tenant_id,
        lead_id=lead.id,
        enrollment_id=row.id,
        step_id="call",
        key=f"{row.workflow_id}:task:call:1",
        title="Call Ada",
        description=None,
        due_at=NOON + timedelta(days=1),
        assignee=assignee,
        created_at=NOON,
    )


async def test_a_task_is_created_once_closed_once_and_escalated_once(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant_id, (row,), lead = await _enrollments(session_factory, 1)
    create = _call_ada_task(row, lead, assignee="lead_owner")
    env = ActivityEnvironment()
    first = await env.run(acts.create_task, create)
    second = await env.run(acts.create_task, create)
    assert first.task_id == second.task_id and first.assignee_id == lead.owner_id

    overdue = OverdueTask(
        tenant_id=tenant_id, lead_id=lead.id, task_id=first.task_id, title="Call Ada", due_at=create.due_at, key="k1"
    )
    assert await env.run(acts.escalate_overdue_task, overdue.model_copy(update={"key": f"{row.id}:overdue"}))
    assert not await env.run(acts.escalate_overdue_task, overdue.model_copy(update={"key": f"{row.id}:overdue"}))

    close = TaskToClose(tenant_id=tenant_id, task_id=first.task_id, status="completed", actor="user:a", at=NOON)
    assert await env.run(acts.close_task, close)
    assert not await env.run(acts.close_task, close.model_copy(update={"status": "skipped"}))
    async with session_factory() as session:
        task = await session.get(Task, first.task_id)
        events = (
            (await session.execute(select(TimelineEvent.kind).where(TimelineEvent.lead_id == lead.id))).scalars().all()
        )
    assert task is not None and (task.status, task.closed_by) == ("completed", "user:a")
    assert task.escalated_at is not None
    assert sorted(events) == ["sequence_task_created", "sequence_task_overdue"]


async def test_a_task_for_a_deactivated_user_goes_to_the_lead_owner_or_stays_unassigned(
    acts: SequenceActivities, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant_id, (row,), lead = await _enrollments(session_factory, 1)
    async with session_factory() as session, session.begin():
        gone = User(tenant_id=tenant_id, email=f"gone-{uuid.uuid4().hex[:8]}@example.test", role="agent",
                    password_hash="-", is_active=False)  # fmt: skip
        session.add(gone)
    base = _call_ada_task(row, lead, assignee=str(gone.id))
    env = ActivityEnvironment()
    to_owner = await env.run(acts.create_task, base)
    assert to_owner.assignee_id == lead.owner_id  # the named user is deactivated: the lead's owner gets it
    async with session_factory() as session, session.begin():
        owner = await session.get(User, lead.owner_id)
        assert owner is not None
        owner.is_active = False
    nobody = await env.run(acts.create_task, base.model_copy(update={"key": f"{row.workflow_id}:task:call:2"}))
    assert nobody.assignee_id is None  # neither is active: unassigned, for owners and admins to pick up


async def test_set_lead_status_goes_through_the_lead_workflow_and_a_refusal_is_a_result(
    lead_worker: object, temporal_client: Client, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant, owner = await make_tenant(session_factory)
    lead = await make_lead(session_factory, tenant, owner=owner)
    await lead_workflows(temporal_client, settings).start(tenant=tenant, lead=lead)
    acts = SequenceActivities(session_factory, temporal_client)

    def request(key: str) -> LeadStatusToSet:
        return LeadStatusToSet(
            tenant_id=tenant.id, tenant_slug=tenant.slug, lead_id=lead.id, status_key=key, actor="sequence:test"
        )

    moved = await ActivityEnvironment().run(acts.set_lead_status, request("contacted"))
    assert (moved.applied, moved.stage) == (True, Stage.CONTACTED)
    refused = await ActivityEnvironment().run(acts.set_lead_status, request("new"))  # contacted -> new is not allowed
    assert not refused.applied and refused.detail and "refused" in refused.detail
    unknown = await ActivityEnvironment().run(acts.set_lead_status, request("no_such_status"))
    assert not unknown.applied
    async with session_factory() as session:
        row = await session.get(Lead, lead.id)
    assert row is not None and row.status_key == "contacted"

"""LeadActivities against the real database: each is safe to run twice, and a deleted lead is a permanent failure."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.leads import LeadActivities
from domain.stages import Stage
from repositories.leads import LeadRepository
from repositories.notifications import NotificationRepository
from tests.workflows.support import LeadRows, make_lead_rows, read_lead, read_timeline
from workflows.lead_types import LEAD_GONE, SpeedToLeadAlert, StatusChangeMirror


def mirror(rows, *, key: str = "wf:run:status:1") -> StatusChangeMirror:
    return StatusChangeMirror(
        tenant_id=rows.tenant.id,
        lead_id=rows.lead.id,
        from_status_key="new",
        from_stage=Stage.NEW,
        to_status_key="contacted",
        to_stage=Stage.CONTACTED,
        actor="user:someone",
        reason="called",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        idempotency_key=f"{key}:{uuid.uuid4()}",
    )


def alert(rows) -> SpeedToLeadAlert:
    return SpeedToLeadAlert(
        tenant_id=rows.tenant.id,
        lead_id=rows.lead.id,
        minutes=15,
        status_key="new",
        due_at=datetime(2026, 1, 2, 3, 19, tzinfo=UTC),
        idempotency_key=f"lead:{rows.lead.id}:speed_to_lead_alert",
    )


async def test_mirroring_a_status_change_twice_writes_it_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = await make_lead_rows(session_factory)
    activities, env = LeadActivities(session_factory), ActivityEnvironment()
    change = mirror(rows)

    await env.run(activities.mirror_status_change, change)
    await env.run(activities.mirror_status_change, change)

    row = await read_lead(session_factory, rows.lead)
    assert row is not None and (row.status_key, row.stage) == ("contacted", "contacted")
    [event] = await read_timeline(session_factory, rows.lead)
    assert (event.kind, event.actor, event.occurred_at) == ("status_changed", "user:someone", change.occurred_at)
    assert event.data["from"] == "new" and event.data["to"] == "contacted" and event.data["reason"] == "called"


@pytest.mark.parametrize(
    ("activity", "data"),
    [("mirror_status_change", mirror), ("record_speed_to_lead_alert", alert)],
    ids=["status_mirror", "speed_to_lead_alert"],
)
async def test_an_activity_for_a_deleted_lead_fails_permanently(
    session_factory: async_sessionmaker[AsyncSession], activity: str, data: Callable[[LeadRows], object]
) -> None:
    rows = await make_lead_rows(session_factory)
    async with session_factory() as session, session.begin():
        await LeadRepository(session).delete(tenant_id=rows.tenant.id, lead_id=rows.lead.id)

    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(getattr(LeadActivities(session_factory), activity), data(rows))

    assert failure.value.type == LEAD_GONE and failure.value.non_retryable


async def test_the_speed_to_lead_alert_is_recorded_once_for_the_current_owner(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = await make_lead_rows(session_factory)
    activities, env = LeadActivities(session_factory), ActivityEnvironment()

    first = await env.run(activities.record_speed_to_lead_alert, alert(rows))
    again = await env.run(activities.record_speed_to_lead_alert, alert(rows))

    assert (first.recorded, again.recorded) == (True, False)
    assert first.owner_id == rows.owner.id
    [event] = await read_timeline(session_factory, rows.lead)
    assert event.kind == "speed_to_lead_alert" and event.actor == "system"
    assert event.data["owner_id"] == str(rows.owner.id) and event.data["minutes"] == 15


async def test_the_speed_to_lead_alert_notifies_the_owner_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    rows = await make_lead_rows(session_factory)
    activities, env = LeadActivities(session_factory), ActivityEnvironment()

    await env.run(activities.record_speed_to_lead_alert, alert(rows))
    await env.run(activities.record_speed_to_lead_alert, alert(rows))

    async with session_factory() as session:
        notifications = await NotificationRepository(session).list_for(
            tenant_id=rows.tenant.id, user_id=rows.owner.id, unread_only=True, limit=10
        )
    [notification] = notifications
    assert notification.kind == "speed_to_lead" and notification.lead_id == rows.lead.id
    assert "was not contacted within 15 minutes" in notification.title

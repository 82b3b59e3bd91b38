"""Speed-to-lead under the time-skipping test server: a lead still `new` after the tenant's SLA gets exactly one
alert on its timeline, for its owner; a lead contacted in time gets none; a tenant that switched it off (0) gets
none for its new leads."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.config import Settings
from domain.stages import Stage
from models import Lead
from repositories.statuses import StatusRepository
from tests.fixtures.crm import TenantContext
from tests.fixtures.history import queued_activities
from tests.fixtures.workflow_calls import lead_workflows
from tests.workflows.support import (
    LeadRows,
    eventually,
    make_lead_rows,
    read_lead,
    read_timeline,
    time_skipping_server,
)
from worker.main import build_worker
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import MIRROR_STATUS_CHANGE, RECORD_SPEED_TO_LEAD_ALERT, StatusChangeRequest


@pytest.fixture
async def time_skipping(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server with Leadflow's search attributes registered and the real worker polling it.

    One per test: skipped time does not come back, and the SLA counts from the lead row's (real) creation time.
    """
    async with time_skipping_server() as env, build_worker(env.client, settings, session_factory):
        yield env


async def alerts(session_factory: async_sessionmaker[AsyncSession], lead: Lead) -> list[dict]:
    return [e.data for e in await read_timeline(session_factory, lead) if e.kind == "speed_to_lead_alert"]


async def scheduled_activities(handle: WorkflowHandle) -> list[str]:
    """Activity types the workflow scheduled, from its history: what it decided, independent of real time."""
    return queued_activities(list((await handle.fetch_history()).events))


async def _lead_started(
    env: WorkflowEnvironment, settings: Settings, session_factory: async_sessionmaker[AsyncSession], *, sla_minutes: int
) -> tuple[LeadRows, WorkflowHandle]:
    """A new lead of a tenant whose speed-to-lead SLA is `sla_minutes`, its workflow started."""
    rows = await make_lead_rows(session_factory, speed_to_lead_minutes=sla_minutes)
    return rows, await lead_workflows(env.client, settings).start(tenant=rows.tenant, lead=rows.lead)


async def test_a_lead_left_new_past_the_sla_gets_one_alert_for_its_owner(
    time_skipping: WorkflowEnvironment, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rows, handle = await _lead_started(time_skipping, settings, session_factory, sla_minutes=15)

    await time_skipping.sleep(timedelta(minutes=14))
    assert await alerts(session_factory, rows.lead) == []

    await time_skipping.sleep(timedelta(minutes=2))
    # The alert activity runs in real time once the skipped timer fired.
    found = await eventually(lambda: alerts(session_factory, rows.lead))

    assert len(found) == 1
    assert found[0]["owner_id"] == str(rows.owner.id)
    assert found[0]["minutes"] == 15 and found[0]["status"] == "new"
    view = await handle.query(LeadWorkflow.view)
    assert view.speed_to_lead_alerted_at is not None and view.stage == "new"

    await time_skipping.sleep(timedelta(hours=3))
    assert await scheduled_activities(handle) == [RECORD_SPEED_TO_LEAD_ALERT]
    assert len(await alerts(session_factory, rows.lead)) == 1


async def test_a_lead_contacted_in_time_gets_no_alert(
    time_skipping: WorkflowEnvironment, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rows, handle = await _lead_started(time_skipping, settings, session_factory, sla_minutes=15)
    await time_skipping.sleep(timedelta(minutes=10))
    async with session_factory() as session:
        contacted = await StatusRepository(session).get_by_key(tenant_id=rows.tenant.id, key="contacted")
    assert contacted is not None

    await lead_workflows(time_skipping.client, settings).change_status(
        tenant=rows.tenant, lead=rows.lead, status=contacted, actor="user:test"
    )
    await time_skipping.sleep(timedelta(hours=1))

    assert await scheduled_activities(handle) == [MIRROR_STATUS_CHANGE]
    assert await alerts(session_factory, rows.lead) == []
    view = await handle.query(LeadWorkflow.view)
    assert view.speed_to_lead_alerted_at is None and view.stage == "contacted"
    row = await read_lead(session_factory, rows.lead)
    assert row is not None and row.stage == "contacted"


async def test_a_tenant_without_sla_gets_no_alert(
    time_skipping: WorkflowEnvironment, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rows, handle = await _lead_started(time_skipping, settings, session_factory, sla_minutes=0)

    await time_skipping.sleep(timedelta(days=2))

    assert await scheduled_activities(handle) == []
    assert await alerts(session_factory, rows.lead) == []
    assert (await handle.query(LeadWorkflow.view)).speed_to_lead_due_at is None


async def test_the_sla_survives_continue_as_new(
    time_skipping: WorkflowEnvironment, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rows = await make_lead_rows(session_factory, speed_to_lead_minutes=15)
    short = settings.model_copy(update={"lead_workflow_max_history_events": 12})
    handle = await lead_workflows(time_skipping.client, short).start(tenant=rows.tenant, lead=rows.lead)
    # Moves between two statuses of stage `new` grow the history without stopping the speed-to-lead watch.
    for key in ("fresh", "new", "fresh"):
        request = StatusChangeRequest(status_key=key, stage=Stage.NEW, actor="user:test")
        await handle.execute_update(LeadWorkflow.change_status, request)
    latest = time_skipping.client.get_workflow_handle_for(LeadWorkflow.run, handle.id)
    assert (await latest.describe()).run_id != handle.result_run_id

    await time_skipping.sleep(timedelta(minutes=16))

    found = await eventually(lambda: alerts(session_factory, rows.lead))
    assert len(found) == 1 and found[0]["status"] == "fresh"
    view = await latest.query(LeadWorkflow.view)
    assert view.status_changes == 3 and view.speed_to_lead_alerted_at is not None


async def test_switching_speed_to_lead_off_silences_new_leads_and_running_ones_keep_theirs(
    time_skipping: WorkflowEnvironment,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tenant: TenantContext,
) -> None:
    """Through the API: `PATCH /tenants/{id} {"speed_to_lead_minutes": 0}`. A lead created afterwards never gets an
    alert; a lead whose workflow started before keeps the 15 minutes it started with (part of its input)."""
    app = create_app(
        settings.model_copy(update={"temporal_address": time_skipping.client.service_client.config.target_host})
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
            owner = tenant.headers("owner")

            async def create_lead(phone: str) -> Lead:
                response = await api.post(
                    "/api/v1/leads", json={"phone": phone, "owner_id": str(tenant.agent.id)}, headers=owner
                )
                assert response.status_code == 201, response.text
                row = await read_lead(
                    session_factory, Lead(id=uuid.UUID(response.json()["id"]), tenant_id=tenant.tenant_id)
                )
                assert row is not None
                return row

            before = await create_lead("+12025550171")
            response = await api.patch(
                f"/api/v1/tenants/{tenant.tenant_id}", json={"speed_to_lead_minutes": 0}, headers=owner
            )
            assert response.status_code == 200, response.text
            after = await create_lead("+12025550172")

            await time_skipping.sleep(timedelta(minutes=16))
            assert len(await eventually(lambda: alerts(session_factory, before))) == 1
            await time_skipping.sleep(timedelta(days=2))

            assert await alerts(session_factory, after) == []
            handle = time_skipping.client.get_workflow_handle_for(
                LeadWorkflow.run, lead_workflow_id(tenant.slug, str(after.id))
            )
            assert await scheduled_activities(handle) == []
            assert (await handle.query(LeadWorkflow.view)).speed_to_lead_due_at is None

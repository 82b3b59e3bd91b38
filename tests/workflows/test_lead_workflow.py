"""LeadWorkflow on the Temporal dev server with the real worker and database: one workflow per lead, status changes
accepted (row, timeline, search attribute, visibility) or refused (409 reason, nothing in history), completion on a
terminal stage, reopening, continue-as-new, a deleted lead, details refresh."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

from core.config import Settings
from core.errors import Conflict, NotFound, ServiceUnavailable
from models import Lead, StatusDefinition, Tenant
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from tests.fixtures.workflow_calls import lead_workflows
from tests.workflows.support import eventually, make_lead, make_lead_rows, read_lead, read_timeline
from workflow_clients.lead import lead_workflow_input
from workflows import search_attributes
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import LeadView


async def status(session_factory: async_sessionmaker[AsyncSession], tenant: Tenant, key: str) -> StatusDefinition:
    async with session_factory() as session:
        definition = await StatusRepository(session).get_by_key(tenant_id=tenant.id, key=key)
    assert definition is not None
    return definition


def handle_of(client: Client, tenant: Tenant, lead: Lead) -> WorkflowHandle[LeadWorkflow, LeadView]:
    return client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant.slug, str(lead.id)))


async def change(
    client: Client,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    lead: Lead,
    key: str,
    *,
    reason: str | None = None,
) -> LeadView:
    return await lead_workflows(client, settings).change_status(
        tenant=tenant,
        lead=lead,
        status=await status(session_factory, tenant, key),
        actor="user:test",
        reason=reason,
    )


@pytest.fixture
def ctx(temporal_client: Client, settings: Settings, session_factory, lead_worker: Worker):
    """The three things every test here passes around."""
    return temporal_client, settings, session_factory


async def test_starting_twice_gives_one_workflow_with_search_attributes_and_memo(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory, name="Grace Hopper")

    first = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    second = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)

    assert first.id == f"lead:{rows.tenant.slug}:{rows.lead.id}"
    assert second.result_run_id == first.result_run_id
    description = await first.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    attributes = description.typed_search_attributes
    assert attributes.get(search_attributes.TENANT_ID) == str(rows.tenant.id)
    assert attributes.get(search_attributes.LEAD_ID) == str(rows.lead.id)
    assert attributes.get(search_attributes.LEAD_STATUS) == "new"
    assert attributes.get(search_attributes.ASSIGNED_AGENT) == str(rows.owner.id)
    assert await description.memo_value("display_name") == "Grace Hopper"

    async def runs() -> int:
        return len([w async for w in client.list_workflows(f"WorkflowId = '{first.id}'")])

    assert await eventually(runs) == 1

    view = await lead_workflows(client).view(tenant_slug=rows.tenant.slug, lead_id=rows.lead.id)
    assert (view.status_key, view.stage, view.owner_id) == ("new", "new", rows.owner.id)


async def test_an_accepted_change_is_mirrored_to_row_timeline_and_search_attribute(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)

    view = await change(client, settings, session_factory, rows.tenant, rows.lead, "contacted", reason="left voicemail")

    assert (view.status_key, view.stage, view.status_changes) == ("contacted", "contacted", 1)
    row = await read_lead(session_factory, rows.lead)
    assert row is not None and (row.status_key, row.stage) == ("contacted", "contacted")
    [event] = [e for e in await read_timeline(session_factory, rows.lead) if e.kind == "status_changed"]
    assert event.actor == "user:test"
    assert event.data == {
        "from": "new",
        "to": "contacted",
        "from_stage": "new",
        "to_stage": "contacted",
        "reason": "left voicemail",
    }
    handle = handle_of(client, rows.tenant, rows.lead)
    described = await handle.describe()
    assert described.typed_search_attributes.get(search_attributes.LEAD_STATUS) == "contacted"

    query = f"LeadStatus = 'contacted' AND TenantId = '{rows.tenant.id}'"

    async def found() -> list[str]:
        return [w.id async for w in client.list_workflows(query)]

    assert await eventually(found) == [handle.id]


async def test_resending_the_current_status_changes_nothing(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    await change(client, settings, session_factory, rows.tenant, rows.lead, "contacted")

    again = await change(client, settings, session_factory, rows.tenant, rows.lead, "contacted")

    assert (again.status_key, again.status_changes) == ("contacted", 1)
    events = [e for e in await read_timeline(session_factory, rows.lead) if e.kind == "status_changed"]
    assert len(events) == 1


async def test_a_refused_transition_is_a_conflict_and_never_enters_history(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    handle = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)

    with pytest.raises(Conflict) as refused:
        await change(client, settings, session_factory, rows.tenant, rows.lead, "won")

    assert refused.value.message == "a lead in stage 'new' cannot move to stage 'won'"
    history = await handle.fetch_history()
    update_events = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    }
    assert not [e for e in history.events if e.event_type in update_events]
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    row = await read_lead(session_factory, rows.lead)
    assert row is not None and row.status_key == "new"
    assert [e.kind for e in await read_timeline(session_factory, rows.lead)] == []
    assert (await handle.query(LeadWorkflow.view)).status_key == "new"


async def test_a_terminal_stage_completes_the_workflow(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    handle = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)

    for key in ("contacted", "qualified", "won"):
        await change(client, settings, session_factory, rows.tenant, rows.lead, key)

    result = await asyncio.wait_for(handle.result(), timeout=15)
    assert (result.status_key, result.stage, result.status_changes) == ("won", "won", 3)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    row = await read_lead(session_factory, rows.lead)
    assert row is not None and row.stage == "won"
    # A finished workflow still answers what it knew.
    assert (await lead_workflows(client).view(tenant_slug=rows.tenant.slug, lead_id=rows.lead.id)).stage == "won"


async def test_a_won_lead_can_be_reopened_through_a_fresh_run(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    first = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    await change(client, settings, session_factory, rows.tenant, rows.lead, "contacted")
    await change(client, settings, session_factory, rows.tenant, rows.lead, "lost")
    await asyncio.wait_for(first.result(), timeout=15)
    lost_row = await read_lead(session_factory, rows.lead)
    assert lost_row is not None

    # The API passes the committed row: the fresh run starts from 'lost' and applies the change.
    view = await change(client, settings, session_factory, rows.tenant, lost_row, "engaged")

    assert (view.status_key, view.stage) == ("engaged", "engaged")
    latest = await handle_of(client, rows.tenant, rows.lead).describe()
    assert latest.run_id != first.result_run_id
    assert latest.status == WorkflowExecutionStatus.RUNNING
    assert latest.typed_search_attributes.get(search_attributes.LEAD_STATUS) == "engaged"
    changes = [e.data["to"] for e in await read_timeline(session_factory, rows.lead) if e.kind == "status_changed"]
    assert changes == ["contacted", "lost", "engaged"]


async def test_an_opted_out_lead_refuses_every_later_change(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    handle = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    await change(client, settings, session_factory, rows.tenant, rows.lead, "opted_out")
    await asyncio.wait_for(handle.result(), timeout=15)
    opted_out = await read_lead(session_factory, rows.lead)
    assert opted_out is not None

    with pytest.raises(Conflict) as refused:
        await change(client, settings, session_factory, rows.tenant, opted_out, "contacted")

    assert "opted out" in refused.value.message
    row = await read_lead(session_factory, rows.lead)
    assert row is not None and row.status_key == "opted_out"


async def test_continue_as_new_keeps_the_lead_state(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    # Settings refuse so short a history (the floor is for production); the workflow input allows it.
    short = settings.model_copy(update={"lead_workflow_max_history_events": 12})
    handle = await lead_workflows(client, short).start(tenant=rows.tenant, lead=rows.lead)
    before = await handle.query(LeadWorkflow.view)

    for key in ("contacted", "engaged", "qualified", "engaged"):
        await change(client, settings, session_factory, rows.tenant, rows.lead, key)

    first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    latest = handle_of(client, rows.tenant, rows.lead)
    view = await latest.query(LeadWorkflow.view)
    assert (view.status_key, view.status_changes) == ("engaged", 4)
    assert view.speed_to_lead_due_at == before.speed_to_lead_due_at
    assert view.owner_id == rows.owner.id
    described = await latest.describe()
    assert described.run_id != handle.result_run_id
    assert described.typed_search_attributes.get(search_attributes.TENANT_ID) == str(rows.tenant.id)
    assert described.typed_search_attributes.get(search_attributes.LEAD_STATUS) == "engaged"
    # Every change was mirrored exactly once across the runs.
    changes = [e.data["to"] for e in await read_timeline(session_factory, rows.lead) if e.kind == "status_changed"]
    assert changes == ["contacted", "engaged", "qualified", "engaged"]


async def test_a_deleted_lead_refuses_changes_and_ends_its_workflow(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    handle = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    async with session_factory() as session, session.begin():
        await LeadRepository(session).delete(tenant_id=rows.tenant.id, lead_id=rows.lead.id)

    with pytest.raises(NotFound):
        await change(client, settings, session_factory, rows.tenant, rows.lead, "contacted")

    result = await asyncio.wait_for(handle.result(), timeout=15)
    assert result.lead_gone and result.status_key == "new"


async def test_refreshed_details_update_memo_and_assigned_agent(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory, name="Old Name")
    handle = await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)
    rows.lead.name, rows.lead.owner_id = "New Name", None

    assert await lead_workflows(client).refresh_details(tenant=rows.tenant, lead=rows.lead)

    async def refreshed() -> bool:
        view = await handle.query(LeadWorkflow.view)
        return view.display_name == "New Name" and view.owner_id is None

    assert await eventually(refreshed)
    described = await handle.describe()
    assert await described.memo_value("display_name") == "New Name"
    assert described.typed_search_attributes.get(search_attributes.ASSIGNED_AGENT) == ""


async def test_a_lead_without_workflow_has_no_view(ctx) -> None:
    client, _, _ = ctx
    with pytest.raises(NotFound) as missing:
        await lead_workflows(client).view(tenant_slug="nobody", lead_id=uuid.uuid4())
    assert "has no workflow" in missing.value.message


async def test_a_workflow_that_does_not_answer_in_time_is_service_unavailable(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    # The lead's workflow exists but on a task queue no worker polls: nothing will ever answer.
    data = lead_workflow_input(tenant=rows.tenant, lead=rows.lead, settings=settings)
    handle = await client.start_workflow(
        LeadWorkflow.run, data, id=lead_workflow_id(rows.tenant.slug, str(rows.lead.id)), task_queue="nobody-polls"
    )
    impatient = settings.model_copy(update={"lead_status_change_timeout_seconds": 1.0})

    with pytest.raises(ServiceUnavailable) as unanswered:
        await change(client, impatient, session_factory, rows.tenant, rows.lead, "contacted")

    assert "did not answer in time" in unanswered.value.message
    with pytest.raises(ServiceUnavailable):
        await lead_workflows(client).view(
            tenant_slug=rows.tenant.slug, lead_id=rows.lead.id, answer_within=timedelta(seconds=1)
        )
    await handle.terminate()


async def test_the_readme_queries_find_one_leads_and_one_tenants_workflows(ctx) -> None:
    client, settings, session_factory = ctx
    rows = await make_lead_rows(session_factory)
    second = await make_lead(session_factory, rows.tenant, owner=None, name="Second Lead")
    other = await make_lead_rows(session_factory)
    first_id = (await lead_workflows(client, settings).start(tenant=rows.tenant, lead=rows.lead)).id
    second_id = (await lead_workflows(client, settings).start(tenant=rows.tenant, lead=second)).id
    await lead_workflows(client, settings).start(tenant=other.tenant, lead=other.lead)
    tenant_workflows = sorted([first_id, second_id])

    def found(query: str) -> Callable[[], Awaitable[list[str]]]:
        async def ids() -> list[str]:
            return sorted([w.id async for w in client.list_workflows(query)])

        return ids

    assert await eventually(found(f"LeadId = '{rows.lead.id}'")) == [first_id]
    assert await eventually(found(f"TenantId = '{rows.tenant.id}'")) == tenant_workflows
    assert await eventually(found(f"WorkflowId STARTS_WITH 'lead:{rows.tenant.slug}:'")) == tenant_workflows
    running_new = f"TenantId = '{rows.tenant.id}' AND LeadStatus = 'new' AND ExecutionStatus = 'Running'"
    assert await eventually(found(running_new)) == tenant_workflows
    assert await eventually(found(f"AssignedAgent = '{rows.owner.id}'")) == [first_id]
    unassigned = f"TenantId = '{rows.tenant.id}' AND AssignedAgent = ''"
    assert await eventually(found(unassigned)) == [second_id]

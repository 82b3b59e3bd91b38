"""Endpoints whose Temporal client cannot connect at all (the API started while Temporal was down; its
client is lazy, core/temporal.py) must answer 503 with an actionable message, never 500, and a retry completes."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from models import Task
from tests.fixtures.jobs import finished_job
from tests.fixtures.sequences import create_sequence, insert_leads, us_phones
from workflows.ids import lead_workflow_id

LEADS = "/api/v1/leads"


@pytest.fixture
async def down(settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same API with Temporal unreachable (closed port); app exceptions become HTTP 500 as in production."""
    from api.app import create_app

    broken = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    async with broken.router.lifespan_context(broken):
        transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _lead(client: httpx.AsyncClient, tenant, n: int) -> dict:
    r = await client.post(LEADS, json={"phone": f"+1202555{n:04d}", "name": "Ada"}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()


async def test_patch_of_a_lead_name_with_temporal_unreachable_is_503_saying_it_was_saved(client, down, tenant) -> None:
    lead = await _lead(client, tenant, 3301)
    r = await down.patch(f"{LEADS}/{lead['id']}", json={"name": "Grace"}, headers=tenant.headers())
    assert r.status_code == 503, r.text  # is 500 Internal Server Error, though the new name was committed
    assert "saved" in r.json()["message"]


async def test_status_change_with_temporal_unreachable_is_503(client, down, tenant) -> None:
    lead = await _lead(client, tenant, 3302)
    r = await down.post(f"{LEADS}/{lead['id']}/status", json={"status": "contacted"}, headers=tenant.headers())
    assert r.status_code == 503, r.text  # is 500


async def test_manual_message_with_temporal_unreachable_is_503(client, down, tenant) -> None:
    lead = await _lead(client, tenant, 3304)
    body = {"text": "hi", "request_id": "review-1"}
    r = await down.post(f"{LEADS}/{lead['id']}/messages", json=body, headers=tenant.headers())
    assert r.status_code == 503, r.text  # is 500


async def _unstarted_enrollment(client, down, tenant, session_factory) -> tuple[str, uuid.UUID]:
    sequence = await create_sequence(client, tenant, publish=True)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    r = await down.post(
        f"/api/v1/sequences/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]}, headers=tenant.headers()
    )
    assert r.status_code == 202, r.text  # the rows are saved; the job waits (queued) for the sweeper
    (enrollment_id,) = r.json()["enrollment_ids"]
    assert r.json()["job"]["state"] == "queued"
    return enrollment_id, lead


@pytest.mark.parametrize("action", ["pause", "resume", "stop"])
async def test_enrollment_control_with_temporal_unreachable_is_503(
    client, down, tenant, session_factory, action
) -> None:
    enrollment_id, _ = await _unstarted_enrollment(client, down, tenant, session_factory)
    r = await down.post(f"/api/v1/enrollments/{enrollment_id}/{action}", headers=tenant.headers())
    assert r.status_code == 503, r.text  # is 500


async def test_reading_an_enrollment_with_temporal_unreachable_falls_back_to_its_row(
    client, down, tenant, session_factory
) -> None:
    enrollment_id, _ = await _unstarted_enrollment(client, down, tenant, session_factory)
    r = await down.get(f"/api/v1/enrollments/{enrollment_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text  # is 500; the service falls back to the row only for AppError
    assert r.json()["source"] == "database"


@pytest.mark.parametrize("outcome", ["complete", "skip"])
async def test_task_action_with_temporal_unreachable_is_503(client, down, tenant, session_factory, outcome) -> None:
    enrollment_id, lead = await _unstarted_enrollment(client, down, tenant, session_factory)
    async with session_factory() as session:
        task = Task(
            tenant_id=tenant.tenant_id,
            lead_id=lead,
            enrollment_id=uuid.UUID(enrollment_id),
            step_id="call",
            title="Call Ada",
            assignee_id=tenant.user_id("owner"),
            due_at=datetime.now(UTC) + timedelta(hours=1),
            blocks_enrollment=True,
            status="open",
            idempotency_key=f"review:{uuid.uuid4()}",
        )
        session.add(task)
        await session.commit()
        task_id = task.id
    r = await down.post(f"/api/v1/tasks/{task_id}/{outcome}", json={}, headers=tenant.headers())
    assert r.status_code == 503, r.text  # is 500


async def test_reuploading_an_import_whose_workflows_did_not_start_starts_them(
    client, down, tenant, temporal_client, lead_worker
) -> None:
    csv_text = "phone,name\n+12025553380,One\n+12025553381,Two\n"

    async def upload(c: httpx.AsyncClient) -> httpx.Response:
        files = {"file": ("leads.csv", csv_text.encode(), "text/csv")}
        return await c.post(f"{LEADS}/import", files=files, headers=tenant.headers())

    first = (await upload(down)).json()
    assert first["imported"] == 2 and first["job"]["state"] == "queued"
    again = await upload(client)  # the same request, Temporal back
    await finished_job(client, tenant, again)
    for lead_id in first["lead_ids"]:
        try:
            status = (
                await temporal_client.get_workflow_handle(lead_workflow_id(tenant.slug, lead_id)).describe()
            ).status
        except RPCError:
            status = None
        assert status == WorkflowExecutionStatus.RUNNING, f"lead {lead_id} still has no workflow after the re-upload"

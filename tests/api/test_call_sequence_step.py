"""A sequence's `call` step end to end: the enrollment starts a CallWorkflow through the sandbox's Twilio, waits for
the call's outcome (the CallWorkflow signals it), and follows the step's branch for it."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.calls import CallTenant, make_call_tenant, sandbox_calls, set_persona
from tests.fixtures.crm import MakeTenant
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.sequences import ENROLLMENTS, SEQUENCES, create_sequence
from tests.fixtures.whatsapp import add_lead, eventually
from tests.workflows.sequence_support import ALL_WEEK

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")

STEPS: list[dict[str, Any]] = [
    {"type": "call", "id": "ring", "on_connected": "exit", "on_no_answer": "continue"},
    {"type": "wait", "id": "later", "duration": {"days": 3}},
    {"type": "call", "id": "ring_again"},
]


async def _enrolled_lead(
    client: httpx.AsyncClient,
    tenant: CallTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    **persona: Any,
) -> tuple[str, str, str]:
    phone = unique_phone()
    lead_id = str(await add_lead(session_factory, tenant.tenant.tenant_id, phone=phone))
    await set_persona(sandbox_control, phone, **persona)
    sequence = await create_sequence(
        client, tenant.tenant, publish=True, steps=STEPS, settings={"business_hours": ALL_WEEK}
    )
    answer = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [lead_id]}, headers=tenant.headers("agent")
    )
    assert answer.status_code in (200, 201, 202), answer.text
    (enrollment_id,) = answer.json()["enrollment_ids"]
    return lead_id, phone, enrollment_id


async def _enrollment_where(
    client: httpx.AsyncClient, tenant: CallTenant, enrollment_id: str, done: Any
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers())).json()
        return body if done(body) else None

    return dict(await eventually(check, within_seconds=60))


def _results(enrollment: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["step_id"], h["result"]) for h in enrollment["history"]]


async def test_a_connected_call_step_ends_the_enrollment_as_its_branch_says(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    tenant = await make_call_tenant(client, make_tenant)
    lead_id, phone, enrollment_id = await _enrolled_lead(
        client, tenant, session_factory, sandbox_control, behaviour="human", utterances=["Yes, it is"]
    )

    ended = await _enrollment_where(client, tenant, enrollment_id, lambda e: e["status"] == "exited")

    assert (ended["exit_reason"], ended["exit_detail"]) == ("call_connected", "the call ended human_connected")
    assert _results(ended) == [("ring", "call_placed"), ("ring", "call_connected")]
    [call] = (await client.get(f"/api/v1/leads/{lead_id}/calls", headers=tenant.headers())).json()["items"]
    assert (call["origin"], call["disposition"]) == ("sequence", "human_connected")
    assert call["workflow_id"] == ended["history"][0]["detail"]
    assert len(await sandbox_calls(sandbox_control, phone)) == 1


async def test_an_unanswered_call_step_goes_on_without_the_tenants_retry(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, retry_max_attempts=3, retry_spacing_minutes=1)
    lead_id, phone, enrollment_id = await _enrolled_lead(
        client, tenant, session_factory, sandbox_control, behaviour="no_answer"
    )

    waiting = await _enrollment_where(client, tenant, enrollment_id, lambda e: e["current_step_id"] == "later")

    assert waiting["status"] == "active"
    assert _results(waiting)[:2] == [("ring", "call_placed"), ("ring", "call_no_answer")]
    assert waiting["history"][1]["detail"] == "no_answer"
    calls = (await client.get(f"/api/v1/leads/{lead_id}/calls", headers=tenant.headers())).json()["items"]
    assert [(c["attempt"], c["disposition"]) for c in calls] == [(1, "no_answer")]  # no retry of its own
    assert len(await sandbox_calls(sandbox_control, phone)) == 1

"""A tenant's calls beyond its concurrent-call limit wait for a slot and go once one is free, woken by the release
(signal `slot_may_be_free`) rather than asking again and again."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.fixtures.calls import ended_call, make_call_tenant, sandbox_call_ended, set_persona
from tests.fixtures.crm import MakeTenant
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.whatsapp import add_lead
from workflows.call_types import REQUEST_CALL_SLOT, SLOT_MAY_BE_FREE_SIGNAL

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")


async def test_a_call_over_the_limit_waits_for_the_running_one_and_is_woken_by_its_end(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    temporal_client: Client,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, concurrent_call_limit=1, calls_per_second=100)
    phones = [unique_phone(), unique_phone()]
    placed: list[dict[str, Any]] = []
    for phone in phones:
        await set_persona(sandbox_control, phone, behaviour="human", utterances=["Hello", "No, thanks"], talk_seconds=1)
        lead_id = await add_lead(session_factory, tenant.tenant.tenant_id, phone=phone)
        answer = await client.post(
            f"/api/v1/leads/{lead_id}/calls", json={"ring_agent_first": False}, headers=tenant.headers("agent")
        )
        assert answer.status_code == 202, answer.text
        placed.append(answer.json())

    for call in placed:
        assert (await ended_call(client, call["id"], tenant.headers()))["disposition"] == "human_connected"
    played = [await sandbox_call_ended(sandbox_control, phone) for phone in phones]
    played.sort(key=lambda call: call["created_at"])
    assert played[0]["end_time"] <= played[1]["created_at"]  # one at a time: the second dialled after the first ended

    waited = next(call for call in placed if call["to_number"] == played[1]["to"])
    history = await temporal_client.get_workflow_handle(waited["workflow_id"]).fetch_history()
    questions = [
        e for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == REQUEST_CALL_SLOT
    ]  # fmt: skip
    wakes = [
        e for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == SLOT_MAY_BE_FREE_SIGNAL
    ]  # fmt: skip
    assert wakes, "the waiting call was never woken"
    assert len(questions) <= 3, f"the waiting call asked {len(questions)} times"

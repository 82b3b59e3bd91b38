"""A tenant's calls beyond its concurrent-call limit wait for a slot and go once one is free, woken by the release
(signal `slot_may_be_free`) rather than asking again and again; a waiter whose workflow is gone gives up its place."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.worker import Replayer

from tests.fixtures.calls import (
    CallTenant,
    ended_call,
    make_call_tenant,
    sandbox_call_ended,
    sandbox_calls,
    set_persona,
)
from tests.fixtures.crm import MakeTenant
from tests.fixtures.history import activity_runs
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.whatsapp import add_lead, eventually
from workflows.call import CallWorkflow
from workflows.call_types import REQUEST_CALL_SLOT, SLOT_MAY_BE_FREE_SIGNAL

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")


@dataclass
class OneSlot:
    """A tenant allowed one call at a time, its leads called through the API and played by the sandbox."""

    client: httpx.AsyncClient
    tenant: CallTenant
    session_factory: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    temporal: Client

    async def call(self, *, talk_seconds: float) -> tuple[str, dict[str, Any]]:
        """A new lead who answers and talks; its call placed (202). Its phone and the call."""
        phone = unique_phone()
        await set_persona(
            self.sandbox, phone, behaviour="human", utterances=["Hello", "No, thanks"], talk_seconds=talk_seconds
        )
        lead_id = await add_lead(self.session_factory, self.tenant.tenant.tenant_id, phone=phone)
        answer = await self.client.post(
            f"/api/v1/leads/{lead_id}/calls", json={"ring_agent_first": False}, headers=self.tenant.headers("agent")
        )
        assert answer.status_code == 202, answer.text
        return phone, answer.json()

    async def events(self, call: dict[str, Any]) -> list[HistoryEvent]:
        return list((await self.temporal.get_workflow_handle(call["workflow_id"]).fetch_history()).events)

    async def questions(self, call: dict[str, Any]) -> int:
        """How often the call asked for a slot (`call.request_slot` run, a local activity)."""
        return activity_runs(await self.events(call)).count(REQUEST_CALL_SLOT)

    async def wakes(self, call: dict[str, Any]) -> int:
        return sum(
            1
            for e in await self.events(call)
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            and e.workflow_execution_signaled_event_attributes.signal_name == SLOT_MAY_BE_FREE_SIGNAL
        )

    async def in_line(self, call: dict[str, Any]) -> None:
        """Wait until the call asked for a slot once and was told to wait."""

        async def asked() -> bool:
            return await self.questions(call) >= 1  # a local activity's marker: asked and answered

        await eventually(asked)


@pytest.fixture
async def one_slot(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    temporal_client: Client,
) -> OneSlot:
    tenant = await make_call_tenant(client, make_tenant, concurrent_call_limit=1, calls_per_second=100)
    return OneSlot(client, tenant, session_factory, sandbox_control, temporal_client)


async def test_a_call_over_the_limit_waits_for_the_running_one_and_is_woken_by_its_end(one_slot: OneSlot) -> None:
    placed = [await one_slot.call(talk_seconds=1), await one_slot.call(talk_seconds=1)]

    for _, call in placed:
        assert (await ended_call(one_slot.client, call["id"], one_slot.tenant.headers()))[
            "disposition"
        ] == "human_connected"
    played = [await sandbox_call_ended(one_slot.sandbox, phone) for phone, _ in placed]
    played.sort(key=lambda call: call["created_at"])
    assert played[0]["end_time"] <= played[1]["created_at"]  # one at a time: the second dialled after the first ended

    waited = next(call for _, call in placed if call["to_number"] == played[1]["to"])
    assert await one_slot.wakes(waited) >= 1, "the waiting call was never woken"
    assert await one_slot.questions(waited) <= 3
    # Its history, woken between local steps, replays on the current code.
    history = await one_slot.temporal.get_workflow_handle(waited["workflow_id"]).fetch_history()
    await Replayer(workflows=[CallWorkflow], data_converter=one_slot.temporal.data_converter).replay_workflow(history)


async def test_a_waiter_terminated_in_line_gives_its_place_to_the_next(one_slot: OneSlot) -> None:
    """An operator terminates the first call in line: the running call's end wakes the next one instead, at once
    (not after the waiters' fallback question)."""
    running_phone, _ = await one_slot.call(talk_seconds=2)
    await eventually(lambda: sandbox_calls(one_slot.sandbox, running_phone))  # dialled: it holds the slot
    _, terminated = await one_slot.call(talk_seconds=1)
    await one_slot.in_line(terminated)
    next_phone, next_call = await one_slot.call(talk_seconds=1)
    await one_slot.in_line(next_call)

    await one_slot.temporal.get_workflow_handle(terminated["workflow_id"]).terminate(reason="operator")

    assert (await ended_call(one_slot.client, next_call["id"], one_slot.tenant.headers()))[
        "disposition"
    ] == "human_connected"
    assert await sandbox_calls(one_slot.sandbox, next_phone)
    assert await one_slot.wakes(next_call) >= 1, "the next call was never woken"
    assert await one_slot.questions(next_call) == 2  # once into the line, once when woken

"""The AI voice agent end to end: the tenant's AI agent (on the sandbox model) answers a caller turn by turn through
the sandbox's Twilio call, hands them to a person, ends the call, and summarises it afterwards with a suggested
disposition; the scripted prompts answer whenever the AI is off, failing or out of budget."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from agent.voice import HANDOFF_LINE, UNSUPPORTED_LINE
from models import AiUsage, Lead, Task
from tests.fixtures.ai import configure_agent, lead_writes, model_calls, new_lead
from tests.fixtures.calls import (
    CallTenant,
    ended_call,
    make_call_tenant,
    sandbox_call_ended,
    set_persona,
)
from tests.fixtures.crm import MakeTenant
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.whatsapp import add_lead, eventually
from workflows.call import CallWorkflow
from workflows.call_types import CallView

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")

PRICE = "Membership price: 40 EUR per month. Would you like to visit?"
NEXT_STEPS = "Wonderful! A colleague will send you the next steps by message."
GOODBYE = "I understand. Thank you for your time. Goodbye."
# The tenant's scripted prompts (tests/fixtures/calls.py), which answer when the AI does not.
SCRIPTED_PROMPT = "Great. When would you like to visit?"
SCRIPTED_CLOSING = "Thank you, we will confirm by message. Goodbye."


@dataclass
class VoiceCalls:
    """Calls placed to new leads of AI-answering tenants, watched through the provider sandbox."""

    client: httpx.AsyncClient
    make_tenant: MakeTenant
    session_factory: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient
    sandbox_url: str

    async def ai_tenant(self, **agent: Any) -> CallTenant:
        tenant = await make_call_tenant(self.client, self.make_tenant, human_answer_mode="ai")
        await configure_agent(self.client, self.sandbox, tenant.tenant, self.sandbox_url, **agent)
        return tenant

    async def lead(self, tenant: CallTenant) -> tuple[uuid.UUID, str]:
        phone = unique_phone()
        return await add_lead(self.session_factory, tenant.tenant.tenant_id, phone=phone), phone

    async def call(self, tenant: CallTenant, lead_id: uuid.UUID) -> dict[str, Any]:
        """The lead called (no agent rung first), once the call has ended."""
        placed = await self.client.post(
            f"/api/v1/leads/{lead_id}/calls", json={"ring_agent_first": False}, headers=tenant.headers("agent")
        )
        assert placed.status_code == 202, placed.text
        return await ended_call(self.client, placed.json()["id"], tenant.headers())

    async def call_with(self, tenant: CallTenant, utterances: list[str]) -> tuple[uuid.UUID, str, dict[str, Any]]:
        """A new lead who answers and says `utterances`, called: (lead id, phone, the ended call)."""
        lead_id, phone = await self.lead(tenant)
        await set_persona(self.sandbox, phone, behaviour="human", utterances=utterances)
        return lead_id, phone, await self.call(tenant, lead_id)


@pytest.fixture
def voice(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> VoiceCalls:
    return VoiceCalls(client, make_tenant, session_factory, sandbox_control, sandbox_url)


def _agent_lines(call: dict[str, Any]) -> list[str]:
    return [turn["text"] for turn in call["transcript"] if turn["speaker"] == "agent"]


async def test_the_ai_agent_talks_with_the_caller_and_summarises_the_call(voice: VoiceCalls) -> None:
    tenant = await voice.ai_tenant()
    said = ["How much is it?", "Can you call me back later?", "Yes, I am interested", "Bye"]

    lead_id, phone, call = await voice.call_with(tenant, said)

    # The model's answers; "tomorrow at 10:00" is not in the business facts, so the guardrail says something safe.
    assert _agent_lines(call) == [PRICE, UNSUPPORTED_LINE, NEXT_STEPS, GOODBYE]
    heard = [(s["verb"], s["text"]) for s in (await sandbox_call_ended(voice.sandbox, phone))["steps"]]
    assert heard[-2:] == [("say", GOODBYE), ("hangup", None)]  # end_call hung up after the goodbye
    assert call["disposition"] == "human_connected"  # the suggestion is not applied by itself
    assert call["summary"] == "The caller said: " + "; ".join(said) + "."
    assert (call["suggested_disposition"], call["summary_by"]) == ("callback_requested", "ai:v1")
    # Four turns and the summary, each on the tenant's usage as a call.
    assert [c["status_code"] for c in await model_calls(voice.sandbox, lead_id)] == [200] * 5
    async with voice.session_factory() as session:
        purposes = (await session.scalars(select(AiUsage.purpose).where(AiUsage.lead_id == lead_id))).all()
    assert purposes == ["call"] * 5


async def test_a_caller_asking_for_a_person_is_connected_to_the_agent_number(voice: VoiceCalls) -> None:
    tenant = await voice.ai_tenant()
    await set_persona(voice.sandbox, tenant.agent_number, behaviour="human")

    _, phone, call = await voice.call_with(tenant, ["Can I talk to someone, please?"])

    assert _agent_lines(call) == [HANDOFF_LINE]
    heard = [(s["verb"], s["text"]) for s in (await sandbox_call_ended(voice.sandbox, phone))["steps"]]
    assert ("dial", tenant.agent_number) in heard
    assert call["disposition"] == "human_connected"


async def test_the_scripted_prompts_answer_when_the_ai_is_in_draft_mode(voice: VoiceCalls) -> None:
    """A draft-mode agent's words wait for a person's approval, which a live call cannot: the script answers."""
    tenant = await voice.ai_tenant(mode="draft")

    lead_id, _, call = await voice.call_with(tenant, ["How much?", "Bye"])

    assert _agent_lines(call) == [SCRIPTED_PROMPT, SCRIPTED_CLOSING]
    assert call["summary"] is None and call["suggested_disposition"] is None
    assert await model_calls(voice.sandbox, lead_id) == []


async def test_a_failing_model_leaves_the_turn_to_the_script_and_the_next_turn_to_the_ai(voice: VoiceCalls) -> None:
    tenant = await voice.ai_tenant()
    lead_id, phone = await voice.lead(tenant)
    await voice.sandbox.post("/_sandbox/faults", json={"kind": "model_500", "user": f"lead:{lead_id}"})
    await set_persona(voice.sandbox, phone, behaviour="human", utterances=["How much is it?", "How much is it?"])
    call = await voice.call(tenant, lead_id)

    assert _agent_lines(call) == [SCRIPTED_PROMPT, PRICE]
    assert [c["status_code"] for c in await model_calls(voice.sandbox, lead_id)][:2] == [500, 200]


async def test_past_the_hard_budget_the_script_answers(voice: VoiceCalls) -> None:
    """The first turn's tokens use up a tiny hard budget: every later turn, and the summary, go without the model."""
    tenant = await voice.ai_tenant(monthly_token_budget_soft=1, monthly_token_budget_hard=1)

    lead_id, _, call = await voice.call_with(tenant, ["How much is it?", "How much is it?"])

    assert _agent_lines(call) == [PRICE, SCRIPTED_CLOSING]
    assert len(await model_calls(voice.sandbox, lead_id)) == 1
    assert call["summary"] is None


async def test_a_callback_the_ai_agent_schedules_is_a_call_queued_for_that_time(
    voice: VoiceCalls, temporal_client: Client
) -> None:
    tenant = await voice.ai_tenant()
    lead_id, phone = await new_lead(voice.client, tenant.tenant)
    await lead_writes(temporal_client, voice.session_factory, tenant.tenant, lead_id, "can you call me tomorrow?")

    async def queued() -> list[dict[str, Any]] | None:
        answer = await voice.client.get(f"/api/v1/leads/{lead_id}/calls", headers=tenant.headers())
        items: list[dict[str, Any]] = answer.json()["items"]
        return items or None

    [call] = await eventually(queued, within_seconds=30)
    assert (call["origin"], call["status"], call["disposition"]) == ("ai_callback", "queued", None)
    # The row is written first, then its workflow started (channels/voice/scheduling.py): the view comes a moment later.
    view = await eventually(lambda: _call_view(temporal_client, call["workflow_id"]))
    assert view.scheduled_for is not None
    local = view.scheduled_for.astimezone(ZoneInfo(await lead_phone_zone(voice.session_factory, lead_id)))
    assert (local.hour, local.minute) == (10, 0) and view.scheduled_for > datetime.now(UTC)
    assert (await voice.sandbox.get("/_sandbox/twilio/calls", params={"to": phone})).json()["calls"] == []
    async with voice.session_factory() as session:
        tasks = (await session.scalars(select(Task.title).where(Task.lead_id == lead_id))).all()
    assert tasks == ["Call back Maria Lopez"]


async def _call_view(temporal_client: Client, workflow_id: str) -> CallView | None:
    try:
        return await temporal_client.get_workflow_handle(workflow_id).query(CallWorkflow.view)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def lead_phone_zone(session_factory: async_sessionmaker[AsyncSession], lead_id: uuid.UUID) -> str:
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None
    return lead.timezone

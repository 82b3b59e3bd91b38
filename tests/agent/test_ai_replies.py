"""The AI agent answering leads on WhatsApp, end to end: the lead workflow, the turn activity, the sandbox model
over real HTTP (the `openai` SDK), the WhatsApp outbox and the sandbox's Graph API. What a user sees: the messages
that went out, the drafts, the tasks, the usage."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from domain.ai_agent import ConversationHandler
from models import Conversation, Task
from tests.fixtures.ai import (
    configure_agent,
    eventually,
    lead_handle,
    lead_writes,
    model_calls,
    new_lead,
    sent_texts,
)
from tests.fixtures.crm import TenantContext
from workflows.lead import LeadWorkflow

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

PRICE = "Membership price: 40 EUR per month."

Sessions = async_sessionmaker[AsyncSession]


async def _tasks(session_factory: Sessions, lead_id: uuid.UUID) -> list[Task]:
    async with session_factory() as session:
        return list((await session.execute(select(Task).where(Task.lead_id == lead_id))).scalars())


async def test_a_price_question_gets_the_fact_as_a_reply_and_usage_is_recorded(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url)
    lead_id, phone = await new_lead(client, tenant)

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "Hi! How much is it?")

    async def replied() -> bool:
        return await sent_texts(sandbox_control, phone) == [PRICE]

    await eventually(replied, what="the AI reply")
    outbound: list[dict] = []  # type: ignore[type-arg]

    async def stored() -> bool:
        items = (await client.get(f"/api/v1/leads/{lead_id}/messages", headers=tenant.headers())).json()["items"]
        outbound[:] = [m for m in items if m["direction"] == "outbound" and m["provider_message_id"]]
        return bool(outbound)

    await eventually(stored, what="the stored reply")
    assert outbound[0]["body"] == PRICE and outbound[0]["sent_by"] == "ai_agent:v1"
    # The model saw the facts and the lead's message, and nobody else's.
    (call,) = await model_calls(sandbox_control, lead_id)
    sent = call["request_body"]
    assert "Membership price: 40 EUR per month" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": "Hi! How much is it?"}
    assert sent["safety_identifier"] == f"lead:{lead_id}"

    usage = (await client.get("/api/v1/ai/usage", headers=tenant.headers())).json()
    (day,) = usage["days"]
    assert day["model"] == "gpt-4o-mini" and day["calls"] == 1
    assert day["input_tokens"] > 0 and day["output_tokens"] > 0
    assert usage["budget"]["tokens_used"] == day["input_tokens"] + day["output_tokens"]
    view = await lead_handle(temporal_client, tenant, lead_id).query(LeadWorkflow.view)
    assert view.ai_replies == 1


async def test_a_burst_gets_one_reply_to_its_last_message(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=1.5)
    lead_id, phone = await new_lead(client, tenant)

    for text in ("hello", "I saw your ad", "how much does it cost?"):
        await lead_writes(temporal_client, session_factory, tenant, lead_id, text)

    async def replied() -> bool:
        return bool(await sent_texts(sandbox_control, phone))

    await eventually(replied, what="the AI reply")
    await asyncio.sleep(1.0)  # nothing else may follow
    assert await sent_texts(sandbox_control, phone) == [PRICE]
    calls = await model_calls(sandbox_control, lead_id)
    assert len(calls) == 1  # the earlier messages' turns ended in their debounce
    assert [m["content"] for m in calls[0]["request_body"]["messages"][1:]] == [
        "hello",
        "I saw your ad",
        "how much does it cost?",
    ]


async def test_a_message_during_a_turn_supersedes_it_and_the_stale_reply_is_never_sent(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    fault = {"kind": "model_delay", "user": f"lead:{lead_id}", "delay_seconds": 3}
    assert (await sandbox_control.post("/_sandbox/faults", json=fault)).status_code == 201

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "hello there")

    async def thinking() -> bool:
        return len(await model_calls(sandbox_control, lead_id)) == 1

    await eventually(thinking, what="the first model call")
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "what are your opening hours?")

    async def replied() -> bool:
        return bool(await sent_texts(sandbox_control, phone))

    await eventually(replied, what="the reply to the second message")
    await asyncio.sleep(3.5)  # the first turn's answer has come back by now, and must have been dropped
    assert await sent_texts(sandbox_control, phone) == ["Opening hours: 06:00-22:00 every day."]


async def test_handoff_makes_the_ai_silent_until_an_agent_hands_back(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url)
    lead_id, phone = await new_lead(client, tenant)
    handle = lead_handle(temporal_client, tenant, lead_id)

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "I want to talk to a human please")

    async def handed_off() -> bool:
        return (await handle.query(LeadWorkflow.view)).conversation_handler == ConversationHandler.HUMAN

    await eventually(handed_off, what="the handoff")
    (task,) = await _tasks(session_factory, lead_id)
    assert task.assignee_id == tenant.user_id("agent") and "Take over" in task.title
    timeline = (await client.get(f"/api/v1/leads/{lead_id}/timeline", headers=tenant.headers())).json()
    assert any(event["kind"] == "ai_handoff" for event in timeline)

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")
    await asyncio.sleep(1.0)
    assert len(await model_calls(sandbox_control, lead_id)) == 1  # silent: no turn for a human's conversation

    back = await client.put(
        f"/api/v1/ai/leads/{lead_id}/handler", json={"handler": "ai"}, headers=tenant.headers("agent")
    )
    assert back.status_code == 200 and back.json()["handler"] == "ai", back.text
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "so how much is it?")

    async def replied() -> bool:
        return await sent_texts(sandbox_control, phone) == [PRICE]

    await eventually(replied, what="the reply after the hand-back")


async def test_an_agents_own_message_takes_the_conversation_over(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "ok thanks")  # no reply needed

    async def answered() -> bool:
        return len(await model_calls(sandbox_control, lead_id)) == 1

    await eventually(answered, what="the AI turn")
    manual = await client.post(
        f"/api/v1/leads/{lead_id}/messages", json={"text": "Hi Maria, Ana here."}, headers=tenant.headers("agent")
    )
    assert manual.status_code == 201, manual.text
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")
    await asyncio.sleep(1.0)
    assert await sent_texts(sandbox_control, phone) == ["Hi Maria, Ana here."]
    assert len(await model_calls(sandbox_control, lead_id)) == 1
    view = await lead_handle(temporal_client, tenant, lead_id).query(LeadWorkflow.view)
    assert view.conversation_handler == ConversationHandler.HUMAN


async def test_a_callback_request_schedules_a_task_in_the_leads_zone(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "can you call me tomorrow?")

    async def confirmed() -> bool:
        texts = await sent_texts(sandbox_control, phone)
        return len(texts) == 1 and texts[0].startswith("Done: a colleague will call you on")

    await eventually(confirmed, what="the callback confirmation")
    (task,) = await _tasks(session_factory, lead_id)
    assert task.title == "Call back Maria Lopez" and task.status == "open"
    assert task.due_at > datetime.now(UTC)


async def test_not_interested_moves_the_lead_through_its_workflow(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "sorry, not interested")

    async def closed() -> bool:
        return await sent_texts(sandbox_control, phone) == ["No problem, thanks for letting us know!"]

    await eventually(closed, what="the closing reply")
    lead = (await client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers())).json()
    assert lead["status"] == "lost"
    timeline = (await client.get(f"/api/v1/leads/{lead_id}/timeline", headers=tenant.headers())).json()
    change = next(e for e in timeline if e["kind"] == "status_changed")
    assert change["actor"] == "ai_agent"


async def test_an_opted_out_lead_never_gets_an_ai_reply(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "STOP", opt_out=True)

    async def opted_out() -> bool:
        lead = (await client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers())).json()
        return bool(lead["stage"] == "opted_out")

    await eventually(opted_out, what="the opt-out")
    await asyncio.sleep(0.5)
    assert await model_calls(sandbox_control, lead_id) == []
    assert await sent_texts(sandbox_control, phone) == []


async def test_a_model_error_is_retried_and_the_lead_gets_one_reply(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    for kind in ("model_429", "model_500"):
        await sandbox_control.post("/_sandbox/faults", json={"kind": kind, "user": f"lead:{lead_id}"})
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much?")

    async def replied() -> bool:
        return await sent_texts(sandbox_control, phone) == [PRICE]

    await eventually(replied, what="the reply after the model recovered")
    assert [c["status_code"] for c in await model_calls(sandbox_control, lead_id)] == [429, 500, 200]


async def test_the_hard_budget_pauses_the_agent_and_the_soft_one_is_raised_once(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(
        client,
        sandbox_control,
        tenant,
        sandbox_url,
        debounce_seconds=0.1,
        monthly_token_budget_soft=10,
        monthly_token_budget_hard=50,
    )
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much?")

    async def replied() -> bool:
        return await sent_texts(sandbox_control, phone) == [PRICE]

    await eventually(replied, what="the first reply")
    usage = (await client.get("/api/v1/ai/usage", headers=tenant.headers())).json()["budget"]
    assert usage["tokens_used"] >= 50 and usage["soft_reached_at"] and usage["paused"] is True

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "and the opening hours?")

    async def hard_alert() -> bool:
        budget = (await client.get("/api/v1/ai/usage", headers=tenant.headers())).json()["budget"]
        return budget["hard_reached_at"] is not None

    await eventually(hard_alert, what="the hard budget alert")
    assert await sent_texts(sandbox_control, phone) == [PRICE]
    assert len(await model_calls(sandbox_control, lead_id)) == 1  # paused: the model was not called
    agent = (await client.get("/api/v1/ai/agent", headers=tenant.headers())).json()
    assert agent["paused"] is True


async def test_draft_mode_waits_for_approval_with_an_edit(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, mode="draft", debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")
    draft = await _pending_draft(client, tenant, lead_id)
    assert draft["text"] == PRICE and draft["reason"] == "draft_mode" and draft["settings_version"] == 1
    assert await sent_texts(sandbox_control, phone) == []

    edited = "It is 40 EUR per month, Maria. Want to try a class?"
    approved = await client.post(
        f"/api/v1/ai/drafts/{draft['id']}/approve", json={"text": edited}, headers=tenant.headers("agent")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["final_text"] == edited
    assert approved.json()["message_id"] is not None
    assert await sent_texts(sandbox_control, phone) == [edited]
    again = await client.post(f"/api/v1/ai/drafts/{draft['id']}/approve", headers=tenant.headers("agent"))
    assert again.status_code == 409, again.text
    assert await sent_texts(sandbox_control, phone) == [edited]


async def test_a_rejected_draft_sends_nothing_and_a_newer_message_withdraws_one(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, mode="draft", debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")
    first = await _pending_draft(client, tenant, lead_id)
    rejected = await client.post(
        f"/api/v1/ai/drafts/{first['id']}/reject", json={"reason": "too short"}, headers=tenant.headers("agent")
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text

    await lead_writes(temporal_client, session_factory, tenant, lead_id, "are you open on sundays?")
    second = await _pending_draft(client, tenant, lead_id, not_id=first["id"])
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "hello??")

    async def withdrawn() -> bool:
        drafts = await client.get("/api/v1/ai/drafts", params={"status": "withdrawn"}, headers=tenant.headers())
        return any(d["id"] == second["id"] for d in drafts.json()["items"])

    await eventually(withdrawn, what="the withdrawal")
    late = await client.post(f"/api/v1/ai/drafts/{second['id']}/approve", headers=tenant.headers("agent"))
    assert late.status_code == 409, late.text
    assert await sent_texts(sandbox_control, phone) == []


async def test_an_unanswered_draft_becomes_a_task(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(
        client, sandbox_control, tenant, sandbox_url, mode="draft", debounce_seconds=0.1, draft_timeout_minutes=0.05
    )
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")

    async def expired() -> bool:
        drafts = await client.get(
            "/api/v1/ai/drafts", params={"status": "expired", "lead_id": str(lead_id)}, headers=tenant.headers()
        )
        return bool(drafts.json()["items"])

    await eventually(expired, what="the draft timeout")
    (task,) = await _tasks(session_factory, lead_id)
    assert "AI draft waited too long" in task.title and task.assignee_id == tenant.user_id("agent")
    assert await sent_texts(sandbox_control, phone) == []


async def test_the_facts_guardrail_holds_an_unfounded_promise_as_a_draft(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, debounce_seconds=0.1)  # auto mode
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "any discount for me?")
    draft = await _pending_draft(client, tenant, lead_id)
    assert draft["text"] == "I can offer you 50% off if you sign up today!"
    assert draft["reason"].startswith("guardrail: not in the facts: 50%")
    assert await sent_texts(sandbox_control, phone) == []


async def test_a_draft_approved_after_the_window_closed_is_refused(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    temporal_client: Client,
    session_factory: Sessions,
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    await configure_agent(client, sandbox_control, tenant, sandbox_url, mode="draft", debounce_seconds=0.1)
    lead_id, phone = await new_lead(client, tenant)
    await lead_writes(temporal_client, session_factory, tenant, lead_id, "how much is it?")
    draft = await _pending_draft(client, tenant, lead_id)
    async with session_factory() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.lead_id == lead_id)
            .values(last_inbound_at=datetime.now(UTC) - timedelta(hours=25))
        )
        await session.commit()

    answer = await client.post(f"/api/v1/ai/drafts/{draft['id']}/approve", headers=tenant.headers("agent"))
    assert answer.status_code == 409, answer.text
    assert "24" in answer.json()["message"] or "window" in answer.json()["message"]
    assert await sent_texts(sandbox_control, phone) == []
    failed = await client.get("/api/v1/ai/drafts", params={"status": "failed"}, headers=tenant.headers())
    assert [d["id"] for d in failed.json()["items"]] == [draft["id"]]


async def test_another_tenants_draft_is_a_404(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant, sandbox_url: str
) -> None:  # type: ignore[no-untyped-def]
    other = await make_tenant()
    missing = await client.post(f"/api/v1/ai/drafts/{uuid.uuid4()}/approve", headers=other.headers("agent"))
    assert missing.status_code == 404


async def _pending_draft(
    client: httpx.AsyncClient, tenant: TenantContext, lead_id: uuid.UUID, not_id: str | None = None
) -> dict:  # type: ignore[type-arg]
    found: list[dict] = []  # type: ignore[type-arg]

    async def waiting() -> bool:
        drafts = await client.get(
            "/api/v1/ai/drafts", params={"status": "pending", "lead_id": str(lead_id)}, headers=tenant.headers("agent")
        )
        found[:] = [d for d in drafts.json()["items"] if d["id"] != not_id]
        return bool(found)

    await eventually(waiting, what="a draft")
    return found[0]

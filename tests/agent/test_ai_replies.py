"""The AI agent answering leads on WhatsApp, end to end: the lead workflow, the turn activity, the sandbox model
over real HTTP (the `openai` SDK), the WhatsApp outbox and the sandbox's Graph API. What a user sees: the messages
that went out, the drafts, the tasks, the usage."""

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType

from domain.ai_agent import ConversationHandler
from domain.whatsapp_messages import SEND_WHATSAPP_MESSAGE
from models import Conversation, Task
from tests.fixtures.ai import AiScene, eventually
from tests.fixtures.crm import PASSWORD, MakeTenant, SystemAdminContext, login, set_flag
from tests.fixtures.whatsapp import add_message
from workflows.ai_types import RUN_AI_TURN, AiTurnInput
from workflows.lead import LeadWorkflow

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

PRICE = "Membership price: 40 EUR per month."

Sessions = async_sessionmaker[AsyncSession]


async def _tasks(session_factory: Sessions, lead_id: uuid.UUID) -> list[Task]:
    async with session_factory() as session:
        return list((await session.execute(select(Task).where(Task.lead_id == lead_id))).scalars())


async def test_a_price_question_gets_the_fact_as_a_reply_and_usage_is_recorded(scene: AiScene) -> None:
    await scene.configure()
    lead_id, phone = await scene.new_lead()

    await scene.writes(lead_id, "Hi! How much is it?")

    async def replied() -> bool:
        return await scene.sent(phone) == [PRICE]

    await eventually(replied, what="the AI reply")
    outbound: list[dict] = []  # type: ignore[type-arg]

    async def stored() -> bool:
        items = (await scene.client.get(f"/api/v1/leads/{lead_id}/messages", headers=scene.headers())).json()["items"]
        outbound[:] = [m for m in items if m["direction"] == "outbound" and m["provider_message_id"]]
        return bool(outbound)

    await eventually(stored, what="the stored reply")
    assert outbound[0]["body"] == PRICE and outbound[0]["sent_by"] == "ai_agent:v1"
    # The model saw the facts and the lead's message, and nobody else's.
    (call,) = await scene.calls(lead_id)
    sent = call["request_body"]
    assert "Membership price: 40 EUR per month" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == {"role": "user", "content": "Hi! How much is it?"}
    assert sent["safety_identifier"] == f"lead:{lead_id}"

    usage = (await scene.client.get("/api/v1/ai/usage", headers=scene.headers())).json()
    (day,) = usage["days"]
    assert day["model"] == "gpt-4o-mini" and day["calls"] == 1
    assert day["input_tokens"] > 0 and day["output_tokens"] > 0
    assert usage["budget"]["tokens_used"] == day["input_tokens"] + day["output_tokens"]
    view = await scene.handle(lead_id).query(LeadWorkflow.view)
    assert view.ai_replies == 1


async def test_a_burst_gets_one_reply_to_its_last_message(scene: AiScene) -> None:
    await scene.configure(debounce_seconds=1.5)
    lead_id, phone = await scene.new_lead()

    for text in ("hello", "I saw your ad", "how much does it cost?"):
        await scene.writes(lead_id, text)

    async def replied() -> bool:
        return bool(await scene.sent(phone))

    await eventually(replied, what="the AI reply")
    await asyncio.sleep(1.0)  # nothing else may follow
    assert await scene.sent(phone) == [PRICE]
    calls = await scene.calls(lead_id)
    assert len(calls) == 1  # the earlier messages' turns ended in their debounce
    assert [m["content"] for m in calls[0]["request_body"]["messages"][1:]] == [
        "hello",
        "I saw your ad",
        "how much does it cost?",
    ]


async def _debounce_timers(scene: AiScene, lead_id: uuid.UUID) -> list[float]:
    """The seconds of each AI reply debounce the lead's workflow waited (its timers named so)."""
    history = await scene.handle(lead_id).fetch_history()
    waits = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_TIMER_STARTED:
            continue
        (summary,) = await scene.temporal.data_converter.decode([event.user_metadata.summary], [str])
        if summary == "AI reply debounce":
            waits.append(event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds())
    return waits


async def _turn_inputs(scene: AiScene, lead_id: uuid.UUID) -> list[AiTurnInput]:
    history = await scene.handle(lead_id).fetch_history()
    inputs = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == RUN_AI_TURN:
                inputs += await scene.temporal.data_converter.decode(scheduled.input.payloads, [AiTurnInput])
    return inputs


async def test_the_debounce_counts_from_the_acknowledgement_not_from_the_workflows_turn(scene: AiScene) -> None:
    """The time a message took to reach the workflow (the inbox, the dispatcher, a busy worker) is part of the
    debounce, not added to the lead's wait: a message that waited longer than the debounce is answered at once; the
    turn waits the debounce's last second itself, and a timer the rest before it when that is a second or more
    (Temporal fires timers under a second only after a second)."""
    await scene.configure(debounce_seconds=3.0)
    late_id, late_phone = await scene.new_lead()
    short_id, short_phone = await scene.new_lead()
    fresh_id, fresh_phone = await scene.new_lead()
    now = datetime.now(UTC)
    short_accepted = now - timedelta(seconds=2)

    await scene.writes(late_id, "how much is it?", accepted_at=now - timedelta(seconds=5))
    await scene.writes(short_id, "how much is it?", accepted_at=short_accepted)
    await scene.writes(fresh_id, "how much is it?")

    async def all_replied() -> bool:
        return all([await scene.sent(phone) for phone in (late_phone, short_phone, fresh_phone)])

    await eventually(all_replied, what="the three replies")
    for phone in (late_phone, short_phone, fresh_phone):
        assert await scene.sent(phone) == [PRICE]
    # Late: no wait at all.
    assert await _debounce_timers(scene, late_id) == []
    (late_turn,) = await _turn_inputs(scene, late_id)
    assert late_turn.not_before is None
    # Short: no timer; the turn started at the debounce's end, counted from the acknowledgement.
    assert await _debounce_timers(scene, short_id) == []
    (short_turn,) = await _turn_inputs(scene, short_id)
    assert short_turn.not_before is not None and short_turn.answers_message_id is not None
    assert abs((short_turn.not_before - (short_accepted + timedelta(seconds=3))).total_seconds()) < 0.01
    # Fresh: a timer for what was left once the workflow heard of the message, but for the last second.
    (waited,) = await _debounce_timers(scene, fresh_id)
    assert 1.0 <= waited < 2.0
    (fresh_turn,) = await _turn_inputs(scene, fresh_id)
    assert fresh_turn.not_before is not None


async def _activities_run(scene: AiScene, lead_id: uuid.UUID) -> list[str]:
    """The activities the lead's workflow scheduled, in order."""
    history = await scene.handle(lead_id).fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_an_auto_reply_is_sent_by_its_turn_and_a_throttled_one_by_the_workflows_send(scene: AiScene) -> None:
    """The common path is one activity (model, then the outbox); a send the provider throttles is left to the
    workflow's send activity and its retries, under the same outbox step: one reply either way."""
    await scene.configure(debounce_seconds=0.1)
    quick_id, quick_phone = await scene.new_lead()
    await scene.writes(quick_id, "how much is it?")
    await eventually(lambda: scene.sent(quick_phone), what="the reply")
    assert await _activities_run(scene, quick_id) == [RUN_AI_TURN]

    throttled_id, throttled_phone = await scene.new_lead()
    fault = {"kind": "http_429", "to": throttled_phone, "count": 1}
    assert (await scene.sandbox.post("/_sandbox/faults", json=fault)).status_code == 201
    await scene.writes(throttled_id, "how much is it?")
    await eventually(lambda: scene.sent(throttled_phone), what="the reply after the 429")
    await asyncio.sleep(1.0)  # a second reply, if any, would follow now
    assert await scene.sent(throttled_phone) == [PRICE]
    assert await _activities_run(scene, throttled_id) == [RUN_AI_TURN, SEND_WHATSAPP_MESSAGE]
    assert (await scene.handle(throttled_id).query(LeadWorkflow.view)).ai_replies == 1


async def _while_the_model_thinks(scene: AiScene, text: str, *, seconds: float) -> tuple[uuid.UUID, str]:
    """A new lead writes `text`; returns once its turn asked the model, which holds its answer for `seconds`."""
    await scene.configure(debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    fault = {"kind": "model_delay", "user": f"lead:{lead_id}", "delay_seconds": seconds}
    assert (await scene.sandbox.post("/_sandbox/faults", json=fault)).status_code == 201
    await scene.writes(lead_id, text)

    async def thinking() -> bool:
        return len(await scene.calls(lead_id)) == 1

    await eventually(thinking, what="the model call")
    return lead_id, phone


@pytest.mark.parametrize("moved_on", ["the lead wrote again", "a person took over"])
async def test_a_turn_does_not_send_once_the_conversation_moved_on_before_its_workflow_heard(
    scene: AiScene, moved_on: str
) -> None:
    """What the turn checks itself, before its outbox send: a message stored while the model answered (its signal
    still on the way) or the conversation taken over by a person (the API's mirror) stops the reply."""
    lead_id, phone = await _while_the_model_thinks(scene, "how much is it?", seconds=1.5)
    if moved_on == "the lead wrote again":
        await add_message(
            scene.sessions, scene.tenant.tenant_id, lead_id, body="actually, never mind", at=datetime.now(UTC)
        )
    else:
        async with scene.sessions() as session:
            await session.execute(
                update(Conversation).where(Conversation.lead_id == lead_id).values(handler=ConversationHandler.HUMAN)
            )
            await session.commit()

    async def turn_ended() -> bool:
        history = await scene.handle(lead_id).fetch_history()
        return any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in history.events)

    await eventually(turn_ended, what="the end of the turn")
    await asyncio.sleep(1.0)  # a reply, if any, would be out by now
    assert await scene.sent(phone) == []
    assert await _activities_run(scene, lead_id) == [RUN_AI_TURN]


async def test_a_message_during_a_turn_supersedes_it_and_the_stale_reply_is_never_sent(scene: AiScene) -> None:
    lead_id, phone = await _while_the_model_thinks(scene, "hello there", seconds=3)
    await scene.writes(lead_id, "what are your opening hours?")

    async def replied() -> bool:
        return bool(await scene.sent(phone))

    await eventually(replied, what="the reply to the second message")
    await asyncio.sleep(3.5)  # the first turn's answer has come back by now, and must have been dropped
    assert await scene.sent(phone) == ["Opening hours: 06:00-22:00 every day."]


async def test_handoff_makes_the_ai_silent_until_an_agent_hands_back(scene: AiScene) -> None:
    await scene.configure()
    lead_id, phone = await scene.new_lead()
    handle = scene.handle(lead_id)

    await scene.writes(lead_id, "I want to talk to a human please")

    async def handed_off() -> bool:
        return (await handle.query(LeadWorkflow.view)).conversation_handler == ConversationHandler.HUMAN

    await eventually(handed_off, what="the handoff")
    assert await _inbox_handlers(scene, lead_id) == {"human": ["human"], "ai": [], "unassigned": []}
    (task,) = await _tasks(scene.sessions, lead_id)
    assert task.assignee_id == scene.tenant.user_id("agent") and "Take over" in task.title
    timeline = (await scene.client.get(f"/api/v1/leads/{lead_id}/timeline", headers=scene.headers())).json()
    assert any(event["kind"] == "ai_handoff" for event in timeline)

    await scene.writes(lead_id, "how much is it?")
    await asyncio.sleep(1.0)
    assert len(await scene.calls(lead_id)) == 1  # silent: no turn for a human's conversation

    back = await scene.client.put(
        f"/api/v1/ai/leads/{lead_id}/handler", json={"handler": "ai"}, headers=scene.headers("agent")
    )
    assert back.status_code == 200 and back.json()["handler"] == "ai", back.text
    assert await _inbox_handlers(scene, lead_id) == {"human": [], "ai": ["ai"], "unassigned": []}
    await scene.writes(lead_id, "so how much is it?")

    async def replied() -> bool:
        return await scene.sent(phone) == [PRICE]

    await eventually(replied, what="the reply after the hand-back")


async def test_an_agents_own_message_takes_the_conversation_over(scene: AiScene) -> None:
    await scene.configure(debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "ok thanks")  # no reply needed

    async def answered() -> bool:
        return len(await scene.calls(lead_id)) == 1

    await eventually(answered, what="the AI turn")
    manual = await scene.client.post(
        f"/api/v1/leads/{lead_id}/messages", json={"text": "Hi Maria, Ana here."}, headers=scene.headers("agent")
    )
    assert manual.status_code == 201, manual.text
    await scene.writes(lead_id, "how much is it?")
    await asyncio.sleep(1.0)
    assert await scene.sent(phone) == ["Hi Maria, Ana here."]
    assert len(await scene.calls(lead_id)) == 1
    view = await scene.handle(lead_id).query(LeadWorkflow.view)
    assert view.conversation_handler == ConversationHandler.HUMAN
    assert await _inbox_handlers(scene, lead_id) == {"human": ["human"], "ai": [], "unassigned": []}


async def _inbox_handlers(scene: AiScene, lead_id: uuid.UUID) -> dict[str, list[str]]:
    """The lead's conversation as the inbox lists it under each handler filter: its `handler`, or nothing."""
    found = {}
    for handler in ("human", "ai", "unassigned"):
        page = await scene.client.get(
            "/api/v1/conversations", params={"handler": handler, "limit": 100}, headers=scene.headers("agent")
        )
        assert page.status_code == 200, page.text
        found[handler] = [c["handler"] for c in page.json()["items"] if c["lead"]["id"] == str(lead_id)]
    return found


async def test_a_callback_request_schedules_a_task_in_the_leads_zone(scene: AiScene) -> None:
    await scene.configure()
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "can you call me tomorrow?")

    async def confirmed() -> bool:
        texts = await scene.sent(phone)
        return len(texts) == 1 and texts[0].startswith("Done: a colleague will call you on")

    await eventually(confirmed, what="the callback confirmation")
    (task,) = await _tasks(scene.sessions, lead_id)
    assert task.title == "Call back Maria Lopez" and task.status == "open"
    assert task.due_at > datetime.now(UTC)


async def test_not_interested_moves_the_lead_through_its_workflow(scene: AiScene) -> None:
    await scene.configure()
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "sorry, not interested")

    async def closed() -> bool:
        return await scene.sent(phone) == ["No problem, thanks for letting us know!"]

    await eventually(closed, what="the closing reply")
    lead = (await scene.client.get(f"/api/v1/leads/{lead_id}", headers=scene.headers())).json()
    assert lead["status"] == "lost"
    timeline = (await scene.client.get(f"/api/v1/leads/{lead_id}/timeline", headers=scene.headers())).json()
    change = next(e for e in timeline if e["kind"] == "status_changed")
    assert change["actor"] == "ai_agent"


async def test_an_opted_out_lead_never_gets_an_ai_reply(scene: AiScene) -> None:
    await scene.configure(debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "STOP", opt_out=True)

    async def opted_out() -> bool:
        lead = (await scene.client.get(f"/api/v1/leads/{lead_id}", headers=scene.headers())).json()
        return bool(lead["stage"] == "opted_out")

    await eventually(opted_out, what="the opt-out")
    await asyncio.sleep(0.5)
    assert await scene.calls(lead_id) == []
    assert await scene.sent(phone) == []


async def test_a_model_error_is_retried_and_the_lead_gets_one_reply(scene: AiScene) -> None:
    await scene.configure(debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    for kind in ("model_429", "model_500"):
        await scene.sandbox.post("/_sandbox/faults", json={"kind": kind, "user": f"lead:{lead_id}"})
    await scene.writes(lead_id, "how much?")

    async def replied() -> bool:
        return await scene.sent(phone) == [PRICE]

    await eventually(replied, what="the reply after the model recovered")
    assert [c["status_code"] for c in await scene.calls(lead_id)] == [429, 500, 200]


async def test_the_hard_budget_pauses_the_agent_and_the_soft_one_is_raised_once(
    scene: AiScene, make_client: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
) -> None:
    await scene.configure(
        debounce_seconds=0.1,
        monthly_token_budget_soft=10,
        monthly_token_budget_hard=50,
    )
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "how much?")

    async def replied() -> bool:
        return await scene.sent(phone) == [PRICE]

    await eventually(replied, what="the first reply")
    usage = (await scene.client.get("/api/v1/ai/usage", headers=scene.headers())).json()["budget"]
    assert usage["tokens_used"] >= 50 and usage["soft_reached_at"] and usage["paused"] is True

    await scene.writes(lead_id, "and the opening hours?")

    async def hard_alert() -> bool:
        budget = (await scene.client.get("/api/v1/ai/usage", headers=scene.headers())).json()["budget"]
        return budget["hard_reached_at"] is not None

    await eventually(hard_alert, what="the hard budget alert")
    assert await scene.sent(phone) == [PRICE]
    assert len(await scene.calls(lead_id)) == 1  # paused: the model was not called
    agent = (await scene.client.get("/api/v1/ai/agent", headers=scene.headers())).json()
    assert agent["paused"] is True

    # The owners hear of both in the web app; admins and agents do not.
    async with make_client() as owner, make_client() as admin:
        await login(owner, scene.tenant.owner.email, PASSWORD)
        await login(admin, scene.tenant.admin.email, PASSWORD)
        page = (await owner.get("/api/v1/notifications")).json()
        month = datetime.now(UTC).strftime("%Y-%m")
        assert sorted((n["kind"], n["data"]["level"], n["data"]["month"]) for n in page["items"]) == [
            ("ai_budget", "hard", month),
            ("ai_budget", "soft", month),
        ]
        soft = next(n for n in page["items"] if n["data"]["level"] == "soft")
        assert soft["title"].startswith("AI agent:") and "past the soft budget of 10" in soft["title"]
        assert soft["lead_id"] is None and soft["data"]["budget"] == 10 and soft["data"]["tokens_used"] >= 10
        assert page["unread_count"] == 2
        assert (await admin.get("/api/v1/notifications")).json()["items"] == []


async def test_the_soft_budget_tells_the_owners_once_a_month_and_the_agent_goes_on(
    scene: AiScene, make_client: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
) -> None:
    await scene.configure(debounce_seconds=0.1, monthly_token_budget_soft=10)
    lead_id, phone = await scene.new_lead()
    async with make_client() as owner:
        await login(owner, scene.tenant.owner.email, PASSWORD)
        for number, text in enumerate(("how much?", "what are your opening hours?"), start=1):
            await scene.writes(lead_id, text)

            async def replied(count: int = number) -> bool:
                return len(await scene.sent(phone)) == count

            await eventually(replied, what=f"reply {number}")
        # Both turns went past the soft budget: one notification, and both replies went out.
        page = (await owner.get("/api/v1/notifications")).json()
        assert [(n["kind"], n["data"]["level"]) for n in page["items"]] == [("ai_budget", "soft")]
        assert len(await scene.sent(phone)) == 2


async def test_draft_mode_waits_for_approval_with_an_edit(
    scene: AiScene, make_client: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
) -> None:
    await scene.configure(mode="draft", debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "how much is it?")
    draft = await _pending_draft(scene, lead_id)
    assert draft["text"] == PRICE and draft["reason"] == "draft_mode" and draft["settings_version"] == 1
    assert await scene.sent(phone) == []
    # The lead's owner (the agent) is told a draft waits; the tenant's owner is not.
    async with make_client() as agent, make_client() as owner:
        await login(agent, scene.tenant.agent.email, PASSWORD)
        await login(owner, scene.tenant.owner.email, PASSWORD)
        (told,) = (await agent.get("/api/v1/notifications")).json()["items"]
        assert (told["kind"], told["lead_id"], told["data"]["draft_id"]) == (
            "ai_draft_waiting",
            str(lead_id),
            draft["id"],
        )
        assert told["title"] == "AI draft waiting for approval: Maria Lopez"
        assert (await owner.get("/api/v1/notifications")).json()["items"] == []

    edited = "It is 40 EUR per month, Maria. Want to try a class?"
    approved = await scene.client.post(
        f"/api/v1/ai/drafts/{draft['id']}/approve", json={"text": edited}, headers=scene.headers("agent")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["final_text"] == edited
    assert approved.json()["message_id"] is not None
    assert await scene.sent(phone) == [edited]
    again = await scene.client.post(f"/api/v1/ai/drafts/{draft['id']}/approve", headers=scene.headers("agent"))
    assert again.status_code == 409, again.text
    assert await scene.sent(phone) == [edited]


async def test_a_rejected_draft_sends_nothing_and_a_newer_message_withdraws_one(scene: AiScene) -> None:
    await scene.configure(mode="draft", debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "how much is it?")
    first = await _pending_draft(scene, lead_id)
    rejected = await scene.client.post(
        f"/api/v1/ai/drafts/{first['id']}/reject", json={"reason": "too short"}, headers=scene.headers("agent")
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text

    await scene.writes(lead_id, "are you open on sundays?")
    second = await _pending_draft(scene, lead_id, not_id=first["id"])
    await scene.writes(lead_id, "hello??")

    async def withdrawn() -> bool:
        drafts = await scene.client.get("/api/v1/ai/drafts", params={"status": "withdrawn"}, headers=scene.headers())
        return any(d["id"] == second["id"] for d in drafts.json()["items"])

    await eventually(withdrawn, what="the withdrawal")
    late = await scene.client.post(f"/api/v1/ai/drafts/{second['id']}/approve", headers=scene.headers("agent"))
    assert late.status_code == 409, late.text
    assert await scene.sent(phone) == []


async def test_an_unanswered_draft_becomes_a_task(scene: AiScene) -> None:
    await scene.configure(mode="draft", debounce_seconds=0.1, draft_timeout_minutes=0.05)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "how much is it?")

    async def expired() -> bool:
        drafts = await scene.client.get(
            "/api/v1/ai/drafts", params={"status": "expired", "lead_id": str(lead_id)}, headers=scene.headers()
        )
        return bool(drafts.json()["items"])

    await eventually(expired, what="the draft timeout")
    (task,) = await _tasks(scene.sessions, lead_id)
    assert "AI draft waited too long" in task.title and task.assignee_id == scene.tenant.user_id("agent")
    assert await scene.sent(phone) == []


async def test_the_facts_guardrail_holds_an_unfounded_promise_as_a_draft(scene: AiScene) -> None:
    await scene.configure(debounce_seconds=0.1)  # auto mode
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "any discount for me?")
    draft = await _pending_draft(scene, lead_id)
    assert draft["text"] == "I can offer you 50% off if you sign up today!"
    assert draft["reason"].startswith("guardrail: not in the facts: 50%")
    assert await scene.sent(phone) == []


async def test_a_draft_approved_after_the_window_closed_is_refused(scene: AiScene) -> None:
    await scene.configure(mode="draft", debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await scene.writes(lead_id, "how much is it?")
    draft = await _pending_draft(scene, lead_id)
    async with scene.sessions() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.lead_id == lead_id)
            .values(last_inbound_at=datetime.now(UTC) - timedelta(hours=25))
        )
        await session.commit()

    answer = await scene.client.post(f"/api/v1/ai/drafts/{draft['id']}/approve", headers=scene.headers("agent"))
    assert answer.status_code == 409, answer.text
    assert "24" in answer.json()["message"] or "window" in answer.json()["message"]
    assert await scene.sent(phone) == []
    failed = await scene.client.get("/api/v1/ai/drafts", params={"status": "failed"}, headers=scene.headers())
    assert [d["id"] for d in failed.json()["items"]] == [draft["id"]]


async def test_another_tenants_draft_is_a_404(scene: AiScene, make_tenant: MakeTenant) -> None:
    await scene.configure(mode="draft", debounce_seconds=0.1)
    lead_id, _ = await scene.new_lead()
    await scene.writes(lead_id, "how much is it?")
    draft = await _pending_draft(scene, lead_id)
    other = await make_tenant()
    for action in ("approve", "reject"):
        refused = await scene.client.post(f"/api/v1/ai/drafts/{draft['id']}/{action}", headers=other.headers("agent"))
        assert refused.status_code == 404, refused.text
    listed = await scene.client.get("/api/v1/ai/drafts", headers=other.headers("agent"))
    assert listed.json()["items"] == []
    handler = await scene.client.put(
        f"/api/v1/ai/leads/{lead_id}/handler", json={"handler": "human"}, headers=other.headers("agent")
    )
    assert handler.status_code == 404, handler.text


async def _pending_draft(scene: AiScene, lead_id: uuid.UUID, not_id: str | None = None) -> dict:  # type: ignore[type-arg]
    found: list[dict] = []  # type: ignore[type-arg]

    async def waiting() -> bool:
        drafts = await scene.client.get(
            "/api/v1/ai/drafts", params={"status": "pending", "lead_id": str(lead_id)}, headers=scene.headers("agent")
        )
        found[:] = [d for d in drafts.json()["items"] if d["id"] != not_id]
        return bool(found)

    await eventually(waiting, what="a draft")
    return found[0]


async def test_a_tenant_whose_ai_agent_is_off_gets_no_turn(
    scene: AiScene, client: httpx.AsyncClient, system_admin: SystemAdminContext
) -> None:
    """The flag goes off after the agent was set up: the workflow asks `ai.plan_turn` (which reads the flag), gets
    mode off and skips the turn: the model is never called and nothing is sent."""
    await scene.configure(debounce_seconds=0.1)
    lead_id, phone = await scene.new_lead()
    await set_flag(client, system_admin, scene.tenant.tenant_id, "ai_agent", False)

    await scene.writes(lead_id, "Hi! How much is it?")

    async def planned() -> bool:
        history = await scene.handle(lead_id).fetch_history()
        return any(e.HasField("marker_recorded_event_attributes") for e in history.events)

    await eventually(planned, what="the turn's plan")
    await asyncio.sleep(0.5)
    assert await scene.calls(lead_id) == []
    assert await scene.sent(phone) == []
    view = await scene.handle(lead_id).query(LeadWorkflow.view)
    assert view.ai_replies == 0 and view.inbound_messages == 1

"""The `ai_message` sequence step under the time-skipping server with the real worker: the tenant's AI agent writes
the message on the owner's instructions and the lead's fields (the sandbox model over real HTTP), it goes out through
the WhatsApp outbox to the sandbox; with approval it waits as a draft a person approves (edited), rejects or lets
expire; when the model fails or the budget is used up the step's fallback text goes out and the lead's timeline says
why."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from api.schemas.ai import AgentSettingsUpdate
from api.services.ai_agent import put_settings
from api.services.ai_drafts import decide_draft
from core.errors import Conflict
from models import AiDraft, AiUsage, Lead, Task, TenantFeatureFlag, TimelineEvent
from tests.fixtures.sandbox import SANDBOX_OPENAI_KEY
from tests.fixtures.whatsapp import add_message, eventually
from tests.fixtures.workflow_calls import enrollment_workflows, lead_workflows
from tests.workflows.sequence_support import ALL_WEEK, SequenceWorld
from workflows.sequence_types import EnrollmentStatus

FACTS = "Membership price: 40 EUR per month\nOpening hours: 06:00-22:00 every day"
PRICE_MESSAGE = "Hi Maria! Membership price: 40 EUR per month."


async def configure_agent(world: SequenceWorld, sandbox_url: str, **changes: Any) -> None:
    data = AgentSettingsUpdate.model_validate(
        {
            "mode": "auto",
            "base_url": f"{sandbox_url}/v1",
            "api_key": SANDBOX_OPENAI_KEY,
            "facts": FACTS,
            **changes,
        }
    )
    async with world.session_factory() as session:
        await put_settings(
            session=session, tenant_id=world.tenant.id, data=data, actor="user:test", settings=world.settings
        )
        await session.commit()


async def lead_in_window(world: SequenceWorld) -> Lead:
    """A lead who wrote a moment ago: free text may go out (the 24-hour window is open)."""
    lead = await world.lead()
    await add_message(world.session_factory, world.tenant.id, lead.id, body="hello")
    return lead


def ai_step(**changes: Any) -> dict[str, Any]:
    return {
        "id": "ask",
        "type": "ai_message",
        "instructions": "Tell {{first_name}} what the membership costs.",
        "fallback_text": "Hi {{first_name}}, shall we send you our prices?",
        **changes,
    }


def sequence_of(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(steps), "settings": {"business_hours": ALL_WEEK, "exit_on_reply": False}}


async def texts_to(world: SequenceWorld, lead: Lead) -> list[str | None]:
    return [m.get("text") or m["template"]["name"] for m in await world.sent_to(lead)]


async def rows(world: SequenceWorld, model: Any, lead: Lead) -> list[Any]:
    async with world.session_factory() as session:
        return list((await session.execute(select(model).where(model.lead_id == lead.id))).scalars())


async def test_the_agent_writes_the_message_for_the_lead_and_it_is_sent_once(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    await configure_agent(world, sandbox_url)
    sequence, version = await world.sequence(sequence_of(ai_step()))
    lead = await lead_in_window(world)

    view = await (await world.enroll(env.client, lead, sequence, version)).result()

    assert view.status == EnrollmentStatus.COMPLETED
    assert await texts_to(world, lead) == [PRICE_MESSAGE]
    (record,) = view.history
    assert record.result == "sent" and record.detail is not None
    assert record.detail.startswith("written by the AI agent (v1)")
    (usage,) = await rows(world, AiUsage, lead)
    assert usage.purpose == "sequence" and usage.input_tokens > 0 and usage.settings_version == 1
    calls = (await world.sandbox.get("/_sandbox/model/calls", params={"user": f"lead:{lead.id}"})).json()["calls"]
    (call,) = calls
    prompt = call["request_body"]["messages"]
    assert "Membership price: 40 EUR per month" in prompt[0]["content"] and "name=Maria Lopez" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "Instructions: Tell Maria what the membership costs."}
    assert "tools" not in call["request_body"]


@pytest.mark.parametrize(
    ("fault", "why"),
    [("model_quota", "quota is used up"), ("model_500", "the model answered 500")],
    ids=["refused", "failing-after-its-retries"],
)
async def test_when_the_model_fails_the_fallback_text_goes_out_and_the_timeline_says_why(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str, fault: str, why: str
) -> None:
    await configure_agent(world, sandbox_url)
    sequence, version = await world.sequence(sequence_of(ai_step()))
    lead = await lead_in_window(world)
    # A 500 on every attempt the step's retry policy allows (4): then the step gives up on the model.
    failure = {"kind": fault, "user": f"lead:{lead.id}", "count": 4}
    assert (await world.sandbox.post("/_sandbox/faults", json=failure)).status_code == 201

    view = await (await world.enroll(env.client, lead, sequence, version)).result()

    assert await texts_to(world, lead) == ["Hi Maria, shall we send you our prices?"]
    (record,) = view.history
    assert record.result == "sent" and record.detail is not None and record.detail.startswith("fallback text")
    (note,) = [e for e in await rows(world, TimelineEvent, lead) if e.kind == "ai_message_fallback"]
    assert why in note.data["reason"] and note.data["step_id"] == "ask"
    assert note.data["enrollment_id"] == str(view.enrollment_id)


async def test_past_the_hard_budget_the_fallback_goes_out_without_calling_the_model(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    await configure_agent(world, sandbox_url, monthly_token_budget_hard=1)
    sequence, version = await world.sequence(
        sequence_of(ai_step(), ai_step(id="again", instructions="Tell {{first_name}} our opening hours."))
    )
    lead = await lead_in_window(world)

    view = await (await world.enroll(env.client, lead, sequence, version)).result()

    # The first message used the budget up; the second is the fallback, and the model was called once.
    assert await texts_to(world, lead) == [PRICE_MESSAGE, "Hi Maria, shall we send you our prices?"]
    assert len(await rows(world, AiUsage, lead)) == 1
    (note,) = [e for e in await rows(world, TimelineEvent, lead) if e.kind == "ai_message_fallback"]
    assert note.data["reason"] == "the monthly AI token budget is used up" and note.data["step_id"] == "again"
    assert [r.result for r in view.history] == ["sent", "sent"]


async def test_with_the_ai_agent_flag_off_the_fallback_goes_out_without_calling_the_model(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    await configure_agent(world, sandbox_url)
    async with world.session_factory() as session:
        session.add(TenantFeatureFlag(tenant_id=world.tenant.id, flag="ai_agent", enabled=False))
        await session.commit()
    sequence, version = await world.sequence(sequence_of(ai_step()))
    lead = await lead_in_window(world)

    await (await world.enroll(env.client, lead, sequence, version)).result()

    assert await texts_to(world, lead) == ["Hi Maria, shall we send you our prices?"]
    assert await rows(world, AiUsage, lead) == []
    (note,) = [e for e in await rows(world, TimelineEvent, lead) if e.kind == "ai_message_fallback"]
    assert note.data["reason"] == "the ai_agent feature is off for this tenant"


async def _pending_draft(world: SequenceWorld, lead: Lead) -> AiDraft:
    async def pending() -> AiDraft | None:
        found = [d for d in await rows(world, AiDraft, lead) if d.status == "pending"]
        return found[0] if found else None

    draft: AiDraft = await eventually(pending, within_seconds=30)
    return draft


async def _decide(
    env: WorkflowEnvironment, world: SequenceWorld, draft: AiDraft, *, approve: bool, text: str | None = None
) -> AiDraft:
    async with world.session_factory() as session:
        decided = await decide_draft(
            session=session,
            workflows=lead_workflows(env.client, world.settings),
            enrollments=enrollment_workflows(env.client, world.settings),
            tenant=world.tenant,
            draft_id=draft.id,
            approve=approve,
            text=text,
            reason=None if approve else "not now",
            actor="user:agent",
        )
    async with world.session_factory() as session:
        row = await session.get(AiDraft, decided.id)
        assert row is not None
        return row


async def _enrolled_in_a_step_needing_approval(  # type: ignore[no-untyped-def]
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
):
    """A lead in the 24-hour window enrolled in one `ai_message` step whose message waits for a person's approval."""
    await configure_agent(world, sandbox_url)
    sequence, version = await world.sequence(sequence_of(ai_step(approval=True)))
    lead = await lead_in_window(world)
    return lead, await world.enroll(env.client, lead, sequence, version)


async def test_with_approval_the_message_waits_as_a_draft_and_the_edited_text_goes_out(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    lead, handle = await _enrolled_in_a_step_needing_approval(env, world, sandbox_url)

    draft = await _pending_draft(world, lead)
    assert draft.text == PRICE_MESSAGE and draft.reason == "step_approval"
    assert draft.workflow_id == handle.id
    assert await texts_to(world, lead) == []  # nothing goes out before a person approves

    approved = await _decide(env, world, draft, approve=True, text="Hi Maria, 40 EUR a month, no fee.")
    view = await handle.result()

    assert approved.status == "approved" and approved.final_text == "Hi Maria, 40 EUR a month, no fee."
    assert approved.message_id is not None  # the stored message it became
    assert await texts_to(world, lead) == ["Hi Maria, 40 EUR a month, no fee."]
    assert [r.result for r in view.history] == ["draft_waiting", "sent"]
    with pytest.raises(Conflict):  # decided once
        await _decide(env, world, draft, approve=True)


async def test_a_promise_not_in_the_facts_is_held_as_a_draft_and_a_rejection_sends_nothing(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    await configure_agent(world, sandbox_url)
    sequence, version = await world.sequence(
        sequence_of(
            ai_step(instructions="Offer {{first_name}} a discount."),
            {"id": "after", "type": "send_whatsapp", "template": {"name": "after"}},
        )
    )
    lead = await lead_in_window(world)
    handle = await world.enroll(env.client, lead, sequence, version)

    draft = await _pending_draft(world, lead)
    assert draft.reason.startswith("guardrail: not in the facts") and "50%" in draft.text
    rejected = await _decide(env, world, draft, approve=False)
    view = await handle.result()

    assert rejected.status == "rejected"
    assert await texts_to(world, lead) == ["after"]  # the sequence went on without the message
    assert [r.result for r in view.history] == ["draft_waiting", "draft_rejected", "sent"]


async def test_an_undecided_draft_expires_into_a_task_and_the_sequence_goes_on(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    await configure_agent(world, sandbox_url, mode="draft", draft_timeout_minutes=30)
    sequence, version = await world.sequence(sequence_of(ai_step()))
    lead = await lead_in_window(world)

    view = await (await world.enroll(env.client, lead, sequence, version)).result()  # time skips past the timeout

    (draft,) = await rows(world, AiDraft, lead)
    assert draft.status == "expired" and draft.reason == "draft_mode"
    assert await texts_to(world, lead) == []
    (task,) = [t for t in await rows(world, Task, lead) if t.id == draft.task_id]
    assert task.title.startswith("Answer Maria Lopez")
    assert [r.result for r in view.history] == ["draft_waiting", "draft_expired"]


async def test_a_draft_waiting_when_the_enrollment_is_stopped_is_withdrawn(
    env: WorkflowEnvironment, world: SequenceWorld, sandbox_url: str
) -> None:
    lead, handle = await _enrolled_in_a_step_needing_approval(env, world, sandbox_url)
    draft = await _pending_draft(world, lead)

    enrollment_id = uuid.UUID(handle.id.rsplit(":", 1)[1])
    await enrollment_workflows(env.client, world.settings).stop(
        tenant_slug=world.tenant.slug, enrollment_id=enrollment_id, actor="user:agent"
    )
    view = await handle.result()

    assert view.status == EnrollmentStatus.STOPPED
    async with world.session_factory() as session:
        row = await session.get(AiDraft, draft.id)
        assert row is not None and row.status == "withdrawn"
    assert await texts_to(world, lead) == []
    with pytest.raises(Conflict):
        await _decide(env, world, draft, approve=True)

"""Record LeadWorkflow histories for the replay test: `.venv/bin/python scripts/record_histories.py [scenario ...]`.

Runs the current LeadWorkflow on a throwaway Temporal dev server through the scenarios below and writes each run's
history to tests/workflows/histories/<scenario>.json, replayed by tests/workflows/test_replay.py: a change that
would break running workflows (a command added, removed or reordered) fails there. Scenario names as arguments
record only those. See scripts/history_recording.py for when to re-record.
"""

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from history_recording import HISTORIES, dev_server, run, running, selected, stand_in, until, write_history
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from domain.ai_agent import AgentMode, ConversationHandler
from domain.stages import Stage
from domain.whatsapp_messages import (
    SEND_WHATSAPP_MESSAGE,
    InboundWhatsAppMessage,
    InboundWhatsAppMessages,
    ManualWhatsAppMessage,
    SendWhatsAppInput,
    SendWhatsAppResult,
)
from workflows import search_attributes
from workflows.ai_types import (
    PLAN_AI_TURN,
    RUN_AI_TURN,
    SAVE_AI_DRAFT,
    SETTLE_AI_DRAFT,
    AiDecisionKind,
    AiDraftInput,
    AiDraftRef,
    AiDraftSettled,
    AiTurnInput,
    AiTurnPlan,
    AiTurnPlanRequest,
    AiTurnResult,
    DraftDecision,
    HandlerRequest,
)
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import (
    LEAD_GONE,
    MIRROR_STATUS_CHANGE,
    RECORD_SPEED_TO_LEAD_ALERT,
    LeadDetailsChange,
    LeadView,
    LeadWorkflowInput,
    SpeedToLeadAlert,
    SpeedToLeadAlertResult,
    StatusChangeMirror,
    StatusChangeRequest,
)

QUEUE = "record-lead-histories"
OWNER = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
GONE_LEADS: set[uuid.UUID] = set()


@activity.defn(name=MIRROR_STATUS_CHANGE)
async def mirror_status_change(change: StatusChangeMirror) -> None:
    if change.lead_id in GONE_LEADS:
        raise ApplicationError(f"lead {change.lead_id} no longer exists", type=LEAD_GONE, non_retryable=True)


@activity.defn(name=RECORD_SPEED_TO_LEAD_ALERT)
async def record_speed_to_lead_alert(alert: SpeedToLeadAlert) -> SpeedToLeadAlertResult:
    return SpeedToLeadAlertResult(recorded=True, owner_id=OWNER)


@activity.defn(name=SEND_WHATSAPP_MESSAGE)
async def send_whatsapp_message(data: SendWhatsAppInput) -> SendWhatsAppResult:
    return SendWhatsAppResult(provider_message_id=f"wamid.{data.step}", message_id=str(uuid.uuid4()), mode="text")


# The AI turn stand-in answers by turn number (the last part of the turn key).
AI_DECISIONS = {
    1: AiTurnResult(kind=AiDecisionKind.REPLY, text="It is 40 EUR a month.", settings_version=1),
    2: AiTurnResult(kind=AiDecisionKind.REPLY, text="50% off today!", needs_approval="guardrail: 50%"),
    3: AiTurnResult(kind=AiDecisionKind.HANDOFF, reason="asked for a person"),
    4: AiTurnResult(kind=AiDecisionKind.REPLY, text="Anything else?", needs_approval="draft_mode"),
    5: AiTurnResult(kind=AiDecisionKind.NO_REPLY),
}


# A lead's debounce, when a scenario wants another than 0.2 s.
DEBOUNCE_OF_LEAD: dict[uuid.UUID, float] = {}


@activity.defn(name=PLAN_AI_TURN)
async def plan_ai_turn(request: AiTurnPlanRequest) -> AiTurnPlan:
    return AiTurnPlan(
        mode=AgentMode.AUTO,
        settings_version=1,
        debounce_seconds=DEBOUNCE_OF_LEAD.get(request.lead_id, 0.2),
        draft_timeout_minutes=60,
        planned_at=datetime.now(UTC),
    )


@activity.defn(name=RUN_AI_TURN)
async def run_ai_turn(data: AiTurnInput) -> AiTurnResult:
    decision = AI_DECISIONS[int(data.turn_key.rsplit(":", 1)[1])]
    if data.send_step and decision.kind == AiDecisionKind.REPLY and decision.needs_approval is None:
        # The turn sends an auto reply itself when the workflow names its step.
        return decision.model_copy(update={"sent_message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, data.send_step))})
    return decision


@activity.defn(name=SAVE_AI_DRAFT)
async def save_ai_draft(data: AiDraftInput) -> AiDraftRef:
    return AiDraftRef(draft_id=uuid.uuid5(uuid.NAMESPACE_URL, data.turn_key))


def lead_input(
    *, stage: Stage = Stage.NEW, created_ago: timedelta = timedelta(0), **changes: object
) -> LeadWorkflowInput:
    data = LeadWorkflowInput(
        tenant_id=uuid.uuid4(),
        tenant_slug="replay",
        lead_id=uuid.uuid4(),
        display_name="Ada Lovelace",
        owner_id=OWNER,
        status_key=stage.value,
        stage=stage,
        lead_created_at=datetime.now(UTC) - created_ago,
        speed_to_lead_minutes=15,
        max_history_events=2000,
    )
    return data.model_copy(update=changes)


def start_options(data: LeadWorkflowInput) -> dict[str, Any]:
    return {
        "id": lead_workflow_id(data.tenant_slug, str(data.lead_id)),
        "task_queue": QUEUE,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "memo": {"display_name": data.display_name},
        "search_attributes": TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.TENANT_ID, str(data.tenant_id)),
                SearchAttributePair(search_attributes.LEAD_ID, str(data.lead_id)),
                SearchAttributePair(search_attributes.LEAD_STATUS, data.status_key),
                SearchAttributePair(search_attributes.ASSIGNED_AGENT, str(data.owner_id or "")),
            ]
        ),
    }


async def start(client: Client, data: LeadWorkflowInput) -> WorkflowHandle[LeadWorkflow, LeadView]:
    return await client.start_workflow(LeadWorkflow.run, data, **start_options(data))


async def change(handle: WorkflowHandle[LeadWorkflow, LeadView], key: str, stage: Stage | None = None) -> LeadView:
    request = StatusChangeRequest(status_key=key, stage=stage or Stage(key), actor="user:recorder")
    return await handle.execute_update(LeadWorkflow.change_status, request)


async def refused(handle: WorkflowHandle[LeadWorkflow, LeadView], key: str) -> None:
    try:
        await change(handle, key)
    except WorkflowUpdateFailedError:
        return
    raise AssertionError(f"the change to {key} was expected to be refused")


# Scenarios: each returns the handles (specific runs) whose histories it wants kept -------------------------------


async def status_changes_until_won(client: Client) -> list[WorkflowHandle]:
    handle = await start(client, lead_input())
    await change(handle, "contacted")
    await refused(handle, "new")
    await handle.signal(LeadWorkflow.refresh_details, LeadDetailsChange(display_name="Ada King", owner_id=None))
    await change(handle, "contacted")  # the current status again: a no-op
    await change(handle, "call_back", Stage.CONTACTED)  # another status of the same stage
    await change(handle, "qualified")
    await change(handle, "won")
    await handle.result()
    return [handle]


async def speed_to_lead_alert(client: Client) -> list[WorkflowHandle]:
    # Created 15 minutes minus 3 seconds ago: the SLA timer fires 3 seconds after the start.
    handle = await start(client, lead_input(created_ago=timedelta(minutes=15) - timedelta(seconds=3)))

    async def alerted() -> bool:
        return (await handle.query(LeadWorkflow.view)).speed_to_lead_alerted_at is not None

    await until(alerted)
    await change(handle, "contacted")
    await change(handle, "lost")
    await handle.result()
    return [handle]


async def contacted_before_the_sla(client: Client) -> list[WorkflowHandle]:
    handle = await start(client, lead_input())
    await change(handle, "engaged")
    await change(handle, "opted_out")
    await handle.result()
    return [handle]


async def continue_as_new(client: Client) -> list[WorkflowHandle]:
    handle = await start(client, lead_input(max_history_events=12))
    for key in ("contacted", "engaged", "qualified", "engaged", "won"):
        await change(client.get_workflow_handle_for(LeadWorkflow.run, handle.id), key)
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    for _ in range(50):
        if len(runs) >= 2:
            break
        await asyncio.sleep(0.2)
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    runs.sort(key=lambda run: run.start_time)
    return [client.get_workflow_handle(handle.id, run_id=run.run_id) for run in runs]


async def started_by_status_change(client: Client) -> list[WorkflowHandle]:
    """Update-with-start, as the API reopens a lost lead whose workflow had ended."""
    data = lead_input(stage=Stage.LOST)
    options = start_options(data)
    operation = WithStartWorkflowOperation(LeadWorkflow.run, data, **options)
    request = StatusChangeRequest(status_key="engaged", stage=Stage.ENGAGED, actor="user:recorder")
    await client.execute_update_with_start_workflow(
        LeadWorkflow.change_status, request, start_workflow_operation=operation
    )
    handle = await operation.workflow_handle()
    await change(handle, "won")
    await handle.result()
    return [handle]


async def lead_deleted(client: Client) -> list[WorkflowHandle]:
    data = lead_input()
    GONE_LEADS.add(data.lead_id)
    handle = await start(client, data)
    try:
        await change(handle, "contacted")
    except WorkflowUpdateFailedError:
        pass
    await handle.result()
    return [handle]


async def whatsapp_conversation(client: Client) -> list[WorkflowHandle]:
    """Inbound messages (one repeated), an agent's manual message, then an opt-out keyword that ends the lead."""
    handle = await start(client, lead_input(stage=Stage.CONTACTED))
    for number, body in enumerate(("hello", "how much is it?"), start=1):
        message = InboundWhatsAppMessage(
            provider="sandbox", provider_message_id=f"wamid.in{number}", body=body, received_at=datetime.now(UTC)
        )
        await handle.signal(LeadWorkflow.record_inbound_message, message)
    await handle.signal(LeadWorkflow.record_inbound_message, message)  # a redelivery: ignored
    manual = ManualWhatsAppMessage(request_id="r1", text="It is 40 EUR a month.", actor="user:recorder")
    await handle.execute_update(LeadWorkflow.send_whatsapp_message, manual)
    stop = InboundWhatsAppMessage(
        provider="sandbox",
        provider_message_id="wamid.in3",
        body="STOP",
        received_at=datetime.now(UTC),
        opt_out=True,
        opt_out_status_key="opted_out",
    )
    await handle.signal(LeadWorkflow.record_inbound_message, stop)
    await handle.result()
    return [handle]


async def whatsapp_burst(client: Client) -> list[WorkflowHandle]:
    """Runs of the lead's messages in one signal each (the dispatcher's runs): a burst after a single message that it
    repeats, then a burst with an opt-out keyword in the middle, which ends the lead."""

    def message(number: int, body: str, **details: Any) -> InboundWhatsAppMessage:
        return InboundWhatsAppMessage(
            provider="sandbox",
            provider_message_id=f"wamid.burst{number}",
            body=body,
            received_at=datetime.now(UTC),
            **details,
        )

    handle = await start(client, lead_input(stage=Stage.CONTACTED))
    first = message(1, "hi")
    await handle.signal(LeadWorkflow.record_inbound_message, first)
    burst = [first, message(2, "are you there?"), message(3, "call me")]  # the first one again: ignored
    await handle.signal(LeadWorkflow.record_inbound_messages, InboundWhatsAppMessages(messages=burst))
    stop = message(5, "STOP", opt_out=True)
    last = [message(4, "ok"), stop, message(6, "sorry")]
    await handle.signal(
        LeadWorkflow.record_inbound_messages,
        InboundWhatsAppMessages(messages=last, opt_out_status_key="opted_out"),
    )
    await handle.result()
    return [handle]


def _ai_watches(
    handle: WorkflowHandle,
) -> tuple[Callable[[], Awaitable[LeadView]], Callable[[], Awaitable[bool]], Callable[[], Awaitable[bool]]]:
    """The lead's view, and whether its first AI reply went out, and whether a draft waits."""

    async def view() -> LeadView:
        return await handle.query(LeadWorkflow.view)

    async def replied() -> bool:
        return (await view()).ai_replies == 1

    async def drafted() -> bool:
        return (await view()).pending_draft is not None

    return view, replied, drafted


async def ai_turns(client: Client) -> list[WorkflowHandle]:
    """The AI agent: a reply sent, a guardrail draft approved with an edit, a handoff and a hand-back, a draft
    withdrawn by a newer message, a turn that ends without a reply."""
    handle = await start(client, lead_input(stage=Stage.CONTACTED))
    number = 0

    async def lead_writes(body: str) -> None:
        nonlocal number
        number += 1
        message = InboundWhatsAppMessage(
            provider="sandbox", provider_message_id=f"wamid.ai{number}", body=body, received_at=datetime.now(UTC)
        )
        await handle.signal(LeadWorkflow.record_inbound_message, message)

    view, replied, drafted = _ai_watches(handle)

    async def handed_off() -> bool:
        return (await view()).conversation_handler == ConversationHandler.HUMAN

    await lead_writes("how much is it?")
    await until(replied)
    await lead_writes("any discount?")
    await until(drafted)
    draft = (await view()).pending_draft
    assert draft is not None
    decision = DraftDecision(draft_id=draft.draft_id, approve=True, text="No discount, sorry.", actor="user:recorder")
    await handle.execute_update(LeadWorkflow.decide_ai_draft, decision)
    await lead_writes("I want a human")
    await until(handed_off)
    back = HandlerRequest(handler=ConversationHandler.AI, actor="user:recorder")
    await handle.execute_update(LeadWorkflow.set_conversation_handler, back)
    await lead_writes("thanks, bye")
    await until(drafted)
    await lead_writes("ok")  # withdraws the draft; its own turn ends without a reply

    async def settled() -> bool:
        current = await view()
        return current.pending_draft is None and current.ai_turns == 5

    await until(settled)
    await asyncio.sleep(1.0)  # the last turn's debounce and activity
    await change(handle, "won")
    await handle.result()
    return [handle]


async def _approve_the_draft_then_win(handle: WorkflowHandle) -> None:
    draft = (await handle.query(LeadWorkflow.view)).pending_draft
    assert draft is not None
    decision = DraftDecision(draft_id=draft.draft_id, approve=True, actor="user:recorder")
    await handle.execute_update(LeadWorkflow.decide_ai_draft, decision)
    await change(handle, "won")
    await handle.result()


async def ai_debounce_from_acceptance(client: Client) -> list[WorkflowHandle]:
    """Debounces counted from the webhook's acknowledgement: a long rest waited on a timer, then its last second by
    the turn activity (a reply); a short rest waited by the turn activity alone (a draft, approved)."""
    data = lead_input(stage=Stage.CONTACTED)
    DEBOUNCE_OF_LEAD[data.lead_id] = 2.5
    handle = await start(client, data)

    async def lead_writes(number: int, waited: timedelta) -> None:
        now = datetime.now(UTC)
        message = InboundWhatsAppMessage(
            provider="sandbox",
            provider_message_id=f"wamid.debounce{number}",
            message_id=str(uuid.uuid4()),
            body="how much is it?",
            received_at=now,
            accepted_at=now - waited,
        )
        await handle.signal(LeadWorkflow.record_inbound_message, message)

    _, replied, drafted = _ai_watches(handle)
    await lead_writes(1, timedelta(0))
    await until(replied)
    await lead_writes(2, timedelta(seconds=2.2))
    await until(drafted)
    await _approve_the_draft_then_win(handle)
    return [handle]


async def ai_reply_in_turn(client: Client) -> list[WorkflowHandle]:
    """An auto reply sent by its turn activity (no send activity of the workflow's), then a reply held as a draft
    and approved (sent by the workflow)."""
    handle = await start(client, lead_input(stage=Stage.CONTACTED))
    _, replied, drafted = _ai_watches(handle)
    for number, waits_for in ((1, replied), (2, drafted)):
        message = InboundWhatsAppMessage(
            provider="sandbox",
            provider_message_id=f"wamid.inturn{number}",
            message_id=str(uuid.uuid4()),
            body="how much is it?",
            received_at=datetime.now(UTC),
            accepted_at=datetime.now(UTC),
        )
        await handle.signal(LeadWorkflow.record_inbound_message, message)
        await until(waits_for)
    await _approve_the_draft_then_win(handle)
    return [handle]


SCENARIOS = [
    status_changes_until_won,
    speed_to_lead_alert,
    contacted_before_the_sla,
    continue_as_new,
    started_by_status_change,
    lead_deleted,
    whatsapp_conversation,
    whatsapp_burst,
    ai_turns,
    ai_debounce_from_acceptance,
    ai_reply_in_turn,
]


ACTIVITIES = [
    mirror_status_change,
    record_speed_to_lead_alert,
    send_whatsapp_message,
    plan_ai_turn,
    run_ai_turn,
    save_ai_draft,
    stand_in(SETTLE_AI_DRAFT, AiDraftSettled()),
]


async def record(out_dir: Path = HISTORIES, only: set[str] | None = None) -> list[Path]:
    written: list[Path] = []
    async with running(dev_server, task_queue=QUEUE, workflows=[LeadWorkflow], activities=ACTIVITIES) as env:
        for scenario in selected(SCENARIOS, only):
            handles = await scenario(env.client)
            for number, handle in enumerate(handles, start=1):
                suffix = f"-run{number}" if len(handles) > 1 else ""
                written.append(await write_history(handle, out_dir / f"{scenario.__name__}{suffix}.json"))
    return written


if __name__ == "__main__":
    run(record(only=set(sys.argv[1:]) or None))

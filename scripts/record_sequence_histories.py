"""Record SequenceWorkflow histories for the replay test: `.venv/bin/python scripts/record_sequence_histories.py
[scenario ...]` (every scenario, or only the named ones).

Runs the current SequenceWorkflow (and the LeadWorkflow it talks to) on a throwaway time-skipping Temporal server
through the scenarios below and writes each enrollment's history to tests/workflows/histories/sequence/<name>.json
(and the history of a LeadWorkflow that had an enrollment to tests/workflows/histories/lead_with_enrollment.json),
replayed by tests/workflows/test_sequence_replay.py. See scripts/history_recording.py for when to re-record.
"""

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from history_recording import HISTORIES, run, running, selected, stand_in, time_skipping_server, until, write_history
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.ai_agent import AgentMode
from domain.sequences.definition import SequenceDefinition
from domain.sequences.schedule import daily_cap_decision
from domain.stages import DEFAULT_STATUSES, Stage
from domain.whatsapp_messages import (
    SEND_WHATSAPP_MESSAGE,
    InboundWhatsAppMessage,
    SendWhatsAppInput,
    SendWhatsAppResult,
)
from workflows import search_attributes
from workflows.ai_types import (
    COMPOSE_AI_MESSAGE,
    NOTE_AI_MESSAGE_FALLBACK,
    PLAN_AI_TURN,
    SAVE_AI_DRAFT,
    SETTLE_AI_DRAFT,
    AiDraftInput,
    AiDraftRef,
    AiDraftSettled,
    AiMessageComposed,
    AiMessageRequest,
    AiTurnPlan,
    DraftDecision,
)
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import (
    MIRROR_STATUS_CHANGE,
    LeadWorkflowInput,
    StatusChangeRequest,
)
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import (
    CLOSE_TASK,
    CREATE_TASK,
    ESCALATE_OVERDUE_TASK,
    MIRROR_ENROLLMENT,
    RESERVE_DAILY_SEND,
    SCHEDULE_SEND,
    SCHEDULED_SEND_SETTLED_SIGNAL,
    SEND_MESSAGE,
    SET_LEAD_STATUS,
    SETTLE_SCHEDULED_SEND,
    START_SEQUENCE_CALL,
    CreatedTask,
    DailySendDecision,
    DailySendReservation,
    DueSend,
    DueSendResult,
    EnrollmentControl,
    LeadStatusSet,
    LeadStatusToSet,
    ScheduledDueSend,
    ScheduledSendOutcome,
    ScheduledSendState,
    SendFailure,
    SequenceCallEnded,
    SequenceCallRequest,
    SequenceCallStarted,
    SequenceWorkflowInput,
    TaskAction,
    TaskToCreate,
    enrollment_workflow_id,
)

QUEUE = "record-sequence-histories"
STAGES = {key: stage for key, _label, stage in DEFAULT_STATUSES}
ALL_WEEK = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}
SENDS: dict[str, int] = {}
LEAD_HISTORIES: dict[str, WorkflowHandle] = {}  # name -> lead workflow whose history goes beside the lead's own


@activity.defn(name=SEND_WHATSAPP_MESSAGE)
async def send(data: SendWhatsAppInput) -> SendWhatsAppResult:
    return SendWhatsAppResult(
        provider_message_id=f"wamid.{data.idempotency_key}", message_id=str(uuid.uuid4()), mode="template"
    )


@activity.defn(name=RESERVE_DAILY_SEND)
async def reserve(data: DailySendReservation) -> DailySendDecision:
    key = str(data.tenant_id)
    decision = daily_cap_decision(
        now=data.at,
        sent_today=SENDS.get(key, 0),
        cap=data.cap,
        tenant_timezone=data.tenant_timezone,
        lead_timezone=data.lead_timezone,
        business_hours=data.definition.settings.business_hours,
    )
    if decision.send_now:
        SENDS[key] = SENDS.get(key, 0) + 1
        return DailySendDecision(granted=True, sent_today=SENDS[key])
    SENDS[key] = 0  # the next try is on the next day
    return DailySendDecision(
        granted=False, sent_today=data.cap, defer_until=decision.defer_until, reason=decision.reason
    )


@activity.defn(name=SEND_MESSAGE)
async def send_due(data: DueSend) -> DueSendResult:
    """A due send as one activity (current code): the cap slot first, then the send."""
    if data.reservation is not None:
        decision = await reserve(data.reservation)
        if not decision.granted:
            return DueSendResult(deferred=decision)
    return DueSendResult(sent=await send(data.send), fired_at=datetime.now(UTC))


SCHEDULED: dict[str, DueSend] = {}  # key -> a send written ahead, as the drain would find it
REFUSED_STEPS = {"last"}  # the steps whose scheduled send the stand-in drain finds refused (the lead opted out)


@activity.defn(name=SCHEDULE_SEND)
async def schedule_send(data: ScheduledDueSend) -> str:
    SCHEDULED[data.key] = data.due
    return "scheduled"


@activity.defn(name=SETTLE_SCHEDULED_SEND)
async def settle_scheduled_send(key: str) -> ScheduledSendOutcome:
    """The stand-in drain sent every scheduled send by the time its workflow asks, except a refused step's."""
    return _drained(key, SCHEDULED[key])


def _drained(key: str, due: DueSend) -> ScheduledSendOutcome:
    if due.sent_step.step_id in REFUSED_STEPS:
        failure = SendFailure(kind="LeadOptedOut", message="the lead opted out; nothing was sent")
        return ScheduledSendOutcome(key=key, state=ScheduledSendState.FAILED, failure=failure)
    sent = SendWhatsAppResult(provider_message_id=f"wamid.{key}", message_id=str(uuid.uuid4()), mode="template")
    result = DueSendResult(sent=sent, fired_at=due.sent_step.fired_at)
    return ScheduledSendOutcome(key=key, state=ScheduledSendState.SENT, result=result)


TASK_IDS: dict[str, uuid.UUID] = {}


@activity.defn(name=CREATE_TASK)
async def create_task(data: TaskToCreate) -> CreatedTask:
    task_id = TASK_IDS.setdefault(data.key, uuid.uuid4())
    return CreatedTask(task_id=task_id, assignee_id=None)


@activity.defn(name=SET_LEAD_STATUS)
async def set_status(data: LeadStatusToSet) -> LeadStatusSet:
    return LeadStatusSet(applied=True, stage=STAGES.get(data.status_key), detail=f"status {data.status_key}")


@activity.defn(name=COMPOSE_AI_MESSAGE)
async def compose(data: AiMessageRequest) -> AiMessageComposed:
    if "budget" in data.instructions:  # the scenario's first step: the agent cannot write it
        return AiMessageComposed(fallback_reason="the monthly AI token budget is used up", settings_version=1)
    return AiMessageComposed(text="Hi Ada! Just checking in.", settings_version=1)


DRAFT_IDS: dict[str, uuid.UUID] = {}


@activity.defn(name=SAVE_AI_DRAFT)
async def save_draft(data: AiDraftInput) -> AiDraftRef:
    return AiDraftRef(draft_id=DRAFT_IDS.setdefault(data.turn_key, uuid.uuid4()))


CALLS: dict[str, uuid.UUID] = {}  # attempt key -> call id


@activity.defn(name=START_SEQUENCE_CALL)
async def start_call(data: SequenceCallRequest) -> SequenceCallStarted:
    call_id = CALLS.setdefault(data.attempt_key, uuid.uuid4())
    return SequenceCallStarted(call_id=call_id, workflow_id=f"call:replay:{data.lead_id}:{len(CALLS)}")


ACTIVITIES = [
    start_call,
    send,
    reserve,
    send_due,
    schedule_send,
    settle_scheduled_send,
    create_task,
    set_status,
    compose,
    save_draft,
    stand_in(NOTE_AI_MESSAGE_FALLBACK),
    stand_in(SETTLE_AI_DRAFT, AiDraftSettled()),
    stand_in(MIRROR_ENROLLMENT),
    stand_in(MIRROR_STATUS_CHANGE),
    stand_in(CLOSE_TASK, True),
    stand_in(ESCALATE_OVERDUE_TASK, True),
    # The lead's AI agent is off: its turns are skipped, as before the agent joined the lead workflow.
    stand_in(PLAN_AI_TURN, AiTurnPlan(mode=AgentMode.OFF)),
]


def definition(steps: list[dict[str, Any]], **settings: Any) -> SequenceDefinition:
    return SequenceDefinition.model_validate({"steps": steps, "settings": {"business_hours": ALL_WEEK, **settings}})


async def enroll(
    client: Client,
    steps: list[dict[str, Any]],
    *,
    start_at: datetime | None = None,
    scheduled_sends: bool = False,
    **settings: Any,
) -> WorkflowHandle:
    tenant_id, lead_id, enrollment_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lead = LeadWorkflowInput(
        tenant_id=tenant_id,
        tenant_slug="replay",
        lead_id=lead_id,
        display_name="Ada Lovelace",
        status_key="new",
        stage=Stage.NEW,
        lead_created_at=datetime.now(UTC),
        speed_to_lead_minutes=0,
        max_history_events=2000,
    )
    await client.start_workflow(LeadWorkflow.run, lead, id=lead_workflow_id("replay", str(lead_id)), task_queue=QUEUE)
    data = SequenceWorkflowInput(
        tenant_id=tenant_id,
        tenant_slug="replay",
        lead_id=lead_id,
        enrollment_id=enrollment_id,
        sequence_id=uuid.uuid4(),
        sequence_version_id=uuid.uuid4(),
        sequence_version=1,
        definition=definition(steps, **settings),
        lead_fields={"first_name": "Ada"},
        lead_timezone="Europe/London",
        tenant_timezone="UTC",
        status_stages=STAGES,
        start_at=start_at,
        scheduled_sends=scheduled_sends,
    )
    return await client.start_workflow(
        SequenceWorkflow.run,
        data,
        id=enrollment_workflow_id("replay", str(enrollment_id)),
        task_queue=QUEUE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search_attributes.TENANT_ID, str(tenant_id)),
                SearchAttributePair(search_attributes.LEAD_ID, str(lead_id)),
                SearchAttributePair(search_attributes.SEQUENCE_ID, str(data.sequence_id)),
                SearchAttributePair(search_attributes.ENROLLMENT_STATUS, "active"),
            ]
        ),
    )


SEND = {"type": "send_whatsapp", "template": {"name": "hello", "parameters": ["{{first_name}}"]}}


async def completed_with_waits(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    handle = await enroll(
        client,
        [
            SEND,
            {"type": "wait", "duration": {"days": 2}},
            {"type": "send_whatsapp", "text": "Hi {{first_name}}", "fallback_template": {"name": "nudge"}},
            {"type": "wait_for_reply", "timeout": {"days": 3}},
            {"type": "set_status", "status": "contacted"},
            SEND,
        ],
    )
    await handle.result()
    return handle


async def replied_during_wait(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    handle = await enroll(client, [SEND, {"type": "wait", "duration": {"days": 3}}, SEND])
    view = await handle.query(SequenceWorkflow.view)
    lead = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id("replay", str(view.lead_id)))
    await until(lambda: _knows(lead, handle.id))
    await until(lambda: _sent(handle))
    message = InboundWhatsAppMessage(
        provider="cloud", provider_message_id=f"wamid.{uuid.uuid4().hex}", body="yes", received_at=datetime.now(UTC)
    )
    await lead.signal(LeadWorkflow.record_inbound_message, message)
    await handle.result()
    # The lead's side too (replayed by tests/workflows/test_replay.py): it told its enrollment, then forgot it.
    await until(lambda: _forgot(lead, handle.id))
    change = StatusChangeRequest(status_key="lost", stage=Stage.LOST, actor="user:recorder")
    try:
        await lead.execute_update(LeadWorkflow.change_status, change)
    except RPCError:
        pass  # the time-skipping server loses the outcome of an update that also completes the workflow
    assert (await lead.result()).stage == Stage.LOST
    LEAD_HISTORIES["lead_with_enrollment"] = lead
    return handle


async def paused_resumed_stopped(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    handle = await enroll(
        client, [SEND, {"type": "wait", "duration": {"days": 1}}, SEND, {"type": "wait", "duration": {"days": 5}}, SEND]
    )
    await until(lambda: _sent(handle))
    control = EnrollmentControl(actor="user:recorder")
    await handle.execute_update(SequenceWorkflow.pause, control)
    await env.sleep(timedelta(days=2))
    await handle.execute_update(SequenceWorkflow.resume, control)
    await until(lambda: _sent(handle, 2))
    await handle.execute_update(SequenceWorkflow.stop, control)
    await handle.result()
    return handle


async def folded_sends_capped_then_stopped(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    """Due sends as one activity each (`sequence.send_message`, the `due-send-folded` marker): a send whose wait the
    send itself wrote, a send the daily cap defers to the next day, then a stop during the last wait."""
    handle = await enroll(
        client,
        [SEND, {"type": "wait", "duration": {"days": 1}}, SEND, SEND, {"type": "wait", "duration": {"days": 5}}, SEND],
        daily_cap={"whatsapp": 1},
    )
    await until(lambda: _sent(handle))
    await env.sleep(timedelta(days=3))  # past the wait and the day the cap deferred the third send to
    await until(lambda: _sent(handle, 3))
    await handle.execute_update(SequenceWorkflow.stop, EnrollmentControl(actor="user:recorder", reason="done"))
    await handle.result()
    return handle


async def scheduled_sends_then_refused(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    """Sends written ahead for the drain (`scheduled_sends`): the first sent while the enrollment slept, which woke
    before the send after the wait; that one written ahead in turn; the last (nothing after it to wake the workflow),
    refused, its outcome signalled by the drain."""
    start_at = await env.get_current_time() + timedelta(hours=2)
    last = {**SEND, "id": "last"}
    steps = [SEND, {"type": "wait", "duration": {"days": 1}}, SEND, {"type": "wait", "duration": {"hours": 1}}, last]
    handle = await enroll(client, steps, start_at=start_at, scheduled_sends=True)
    await env.sleep(timedelta(days=1, hours=3))  # the last send written ahead, its fallback wake not come yet
    await until(lambda: _sent(handle, 2))
    await until(lambda: _scheduled(handle.id, "last"))
    key = next(k for k, due in SCHEDULED.items() if k.startswith(handle.id) and due.sent_step.step_id == "last")
    await handle.signal(SCHEDULED_SEND_SETTLED_SIGNAL, _drained(key, SCHEDULED[key]))
    await handle.result()
    return handle


async def _scheduled(workflow_id: str, step_id: str) -> bool:
    return any(k.startswith(workflow_id) and due.sent_step.step_id == step_id for k, due in SCHEDULED.items())


async def paused_before_first_wait(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    # Paused before the wait begins, resumed after the send it leads to was due.
    start_at = await env.get_current_time() + timedelta(hours=1)
    handle = await enroll(client, [{"type": "wait", "duration": {"hours": 5}}, SEND], start_at=start_at)
    control = EnrollmentControl(actor="user:recorder")
    await handle.execute_update(SequenceWorkflow.pause, control)
    await env.sleep(timedelta(hours=8))
    await handle.execute_update(SequenceWorkflow.resume, control)
    await handle.result()
    return handle


async def task_completed_and_capped(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    handle = await enroll(
        client,
        [
            {"type": "task", "title": "Call {{first_name}}", "due_in": {"hours": 2}},
            SEND,
            SEND,
        ],
        daily_cap={"whatsapp": 1},
    )
    await until(lambda: _open_task(handle))
    await env.sleep(timedelta(hours=3))  # overdue: escalated
    view = await handle.query(SequenceWorkflow.view)
    assert view.open_task_id is not None
    await handle.execute_update(SequenceWorkflow.complete_task, TaskAction(task_id=view.open_task_id, actor="user:r"))
    await handle.result()
    return handle


async def ai_message_fallback_and_approved_draft(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    handle = await enroll(
        client,
        [
            {"type": "ai_message", "instructions": "over budget", "fallback_text": "Hi {{first_name}}"},
            {"type": "ai_message", "instructions": "Greet {{first_name}}", "fallback_text": "Hi", "approval": True},
        ],
    )
    await until(lambda: _draft(handle))
    (draft_id,) = DRAFT_IDS.values()
    decision = DraftDecision(draft_id=draft_id, approve=True, text="Hi Ada!", actor="user:recorder")
    await handle.execute_update(SequenceWorkflow.decide_ai_draft, decision)
    await handle.result()
    return handle


async def call_steps_unanswered_then_connected(client: Client, env: WorkflowEnvironment) -> WorkflowHandle:
    """Two call steps: nobody answers the first (it goes on), a person the second (it ends the enrollment)."""
    handle = await enroll(client, [{"type": "call", "id": "first"}, {"type": "call", "id": "second"}])
    for number, disposition in enumerate(("no_answer", "human_connected"), start=1):
        await until(lambda n=number: _calls_placed(handle, n))  # type: ignore[misc]
        call_id = list(CALLS.values())[-1]
        await handle.signal(SequenceWorkflow.call_ended, SequenceCallEnded(call_id=call_id, disposition=disposition))
    await handle.result()
    return handle


async def _calls_placed(handle: WorkflowHandle, count: int) -> bool:
    view = await handle.query(SequenceWorkflow.view)
    return sum(1 for r in view.history if r.result == "call_placed") >= count


async def _draft(handle: WorkflowHandle) -> bool:
    view = await handle.query(SequenceWorkflow.view)
    return any(r.result == "draft_waiting" for r in view.history)


async def _knows(lead: WorkflowHandle, workflow_id: str) -> bool:
    return workflow_id in (await lead.query(LeadWorkflow.view)).active_enrollments


async def _forgot(lead: WorkflowHandle, workflow_id: str) -> bool:
    return workflow_id not in (await lead.query(LeadWorkflow.view)).active_enrollments


async def _sent(handle: WorkflowHandle, count: int = 1) -> bool:
    view = await handle.query(SequenceWorkflow.view)
    return sum(1 for r in view.history if r.result == "sent") >= count


async def _open_task(handle: WorkflowHandle) -> bool:
    return (await handle.query(SequenceWorkflow.view)).open_task_id is not None


SCENARIOS = [
    completed_with_waits,
    replied_during_wait,
    paused_resumed_stopped,
    paused_before_first_wait,
    folded_sends_capped_then_stopped,
    scheduled_sends_then_refused,
    task_completed_and_capped,
    ai_message_fallback_and_approved_draft,
    call_steps_unanswered_then_connected,
]


async def record(out_dir: Path = HISTORIES / "sequence", only: list[str] | None = None) -> list[Path]:
    workflows = [LeadWorkflow, SequenceWorkflow]
    written: list[Path] = []
    async with running(time_skipping_server, task_queue=QUEUE, workflows=workflows, activities=ACTIVITIES) as env:
        for scenario in selected(SCENARIOS, only):
            handle = await scenario(env.client, env)
            written.append(await write_history(handle, out_dir / f"{scenario.__name__}.json"))
        for name, lead in LEAD_HISTORIES.items():
            written.append(await write_history(lead, out_dir.parent / f"{name}.json"))
    return written


if __name__ == "__main__":
    run(record(only=sys.argv[1:] or None))

"""SequenceWorkflow: one enrollment of one lead in one published sequence version.

Contract
- Id `enrollment:{tenant_slug}:{enrollment_id}`; started by the API (USE_EXISTING) after the enrollment row commits.
  Search attributes TenantId, LeadId, SequenceId, EnrollmentStatus (upserted on every change).
- Input `SequenceWorkflowInput`: the version's frozen definition (a running enrollment keeps its version), the lead's
  fields for `{{variables}}`, the lead's and the tenant's zones, the tenant's status stages.
- Schedule: each step is planned by `domain.sequences.schedule` (the functions the preview walks). Sleeps end at once
  on a reply, an exit signal, a pause or a stop; a pause holds the schedule without moving it.
- Exit rules: a reply, the lead reaching an exit stage, an opt-out — signalled by the LeadWorkflow, which learns of
  the enrollment from the `enrollment_started` / `enrollment_ended` signals this workflow sends it.
- Updates `pause`, `resume`, `stop`, `complete_task`, `skip_task` validate first (EnrollmentNotActive, TaskNotOpen)
  and answer the view once it is written to the DB. Query `view() -> EnrollmentView`.
- `ai_message` steps: the tenant's AI agent writes the message (`ai.compose_message`); it goes out through the same
  send as a `send_whatsapp` step (outbox key `<workflow id>:step:<step id>:<n>`, so a retried step never sends
  twice), or waits as an AI draft (the step's `approval`, the agent's `draft` mode, or the facts guardrail) for the
  update `decide_ai_draft(DraftDecision) -> DraftOutcome` (AiDraftNotPending when it is not the waiting draft; an
  approved draft the outbox refused is AiDraftNotSent); past the agent's draft timeout it expires into a task, and an
  enrollment that ends meanwhile withdraws it. When the model still fails after its retries, or the agent is off or
  out of budget, the step's fallback text goes out instead and the lead's timeline says why.
- `call` steps: `call.start_for_sequence` writes the call row and starts its CallWorkflow (once per step execution);
  the step waits up to `wait_up_to` for signal `call_ended(SequenceCallEnded)` from that CallWorkflow and follows the
  branch of its disposition (connected / voicemail / no answer, or no answer when none came in time): `continue`,
  or `exit` with reason `call_<branch>`.
- The enrollment row and its step history mirror the view through one idempotent activity (newest revision wins).
  Continues-as-new between steps when the history grows large, carrying the view and the position.

Adding a step type (`call`, ...): its class in domain/sequences/steps.py (with its entry in `Step`), a
handler method here, `async def _x_step(self, ctx: StepContext[XStep]) -> StepOutcome`, listed in `self._handlers`,
and its activity (name and I/O in workflows/sequence_types.py, options from core/queues.py, registered in
worker/main.py). The loop plans, waits for business hours, takes a daily-cap slot when the class names a
`capped_channel`, then calls the handler; the handler records what it did (`self._record(ctx, StepResult...)`) and
returns where the enrollment goes next (`self._next(...)`) or `ENDED`.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from core.queues import (
    AI_COMPOSE,
    DB_WRITE,
    SCHEDULED_SEND_SETTLE,
    SEQUENCE_CALL_START,
    SEQUENCE_SEND,
    SEQUENCE_SET_STATUS,
)
from domain.calls import sequence_branch
from domain.sequences.preview import render_message
from domain.sequences.schedule import StepPlan, add_duration, in_business_hours, next_index, plan_step, zone
from domain.sequences.steps import (
    AiMessageStep,
    CallOutcomeBranch,
    CallStep,
    SendWhatsAppStep,
    SetStatusStep,
    StepBase,
    TaskStep,
    WaitForReplyStep,
    WaitStep,
)
from domain.sequences.variables import render
from domain.stages import Stage
from domain.whatsapp_messages import (
    ENROLLMENT_PAUSED,
    ENROLLMENT_STOPPED,
    LEAD_AT_EXIT_STAGE,
    LEAD_GONE_SEND,
    LEAD_OPTED_OUT,
    LEAD_REPLIED,
    RECIPIENT_OPTED_OUT,
    SEND_WHATSAPP_MESSAGE,
    UNDELIVERABLE,
    SendWhatsAppInput,
    SendWhatsAppResult,
)
from workflows import search_attributes
from workflows.ai_drafts import settle_ai_draft
from workflows.ai_types import (
    COMPOSE_AI_MESSAGE,
    NOTE_AI_MESSAGE_FALLBACK,
    SAVE_AI_DRAFT,
    AiDraftInput,
    AiDraftRef,
    AiMessageComposed,
    AiMessageFallback,
    AiMessageRequest,
    DraftDecision,
    DraftOutcome,
    PendingDraft,
)
from workflows.failures import WorkflowFailure
from workflows.ids import lead_workflow_id
from workflows.sequence_types import (
    CLOSE_TASK,
    CREATE_TASK,
    ENROLLMENT_ENDED_SIGNAL,
    ENROLLMENT_NOT_ACTIVE,
    ENROLLMENT_STARTED_SIGNAL,
    ESCALATE_OVERDUE_TASK,
    EXIT_LEAD_DELETED,
    EXIT_NO_REPLY,
    EXIT_OPTED_OUT,
    EXIT_REPLIED,
    EXIT_STOPPED,
    EXIT_UNDELIVERABLE,
    LEAD_OPTED_OUT_SIGNAL,
    LEAD_REPLIED_SIGNAL,
    LEAD_STAGE_CHANGED_SIGNAL,
    LEAD_UNDELIVERABLE_SIGNAL,
    MIRROR_ENROLLMENT,
    REPLIED_DETAIL,
    RESERVE_DAILY_SEND,
    SCHEDULE_SEND,
    SCHEDULED_SEND_SETTLED_SIGNAL,
    SEND_MESSAGE,
    SEQUENCE_CALL_ENDED_SIGNAL,
    SET_LEAD_STATUS,
    SETTLE_SCHEDULED_SEND,
    START_SEQUENCE_CALL,
    TASK_NOT_OPEN,
    CreatedTask,
    DailySendDecision,
    DailySendReservation,
    DueSend,
    DueSendResult,
    EnrollmentControl,
    EnrollmentLink,
    EnrollmentMirror,
    EnrollmentStatus,
    EnrollmentView,
    LeadOptedOut,
    LeadReplied,
    LeadStageChanged,
    LeadStatusSet,
    LeadStatusToSet,
    LeadUndeliverable,
    OverdueTask,
    ScheduledDueSend,
    ScheduledSendOutcome,
    ScheduledSendState,
    SendFailure,
    SequenceCallEnded,
    SequenceCallRequest,
    SequenceCallStarted,
    SequenceWorkflowInput,
    StepRecord,
    StepResult,
    TaskAction,
    TaskOutcome,
    TaskToClose,
    TaskToCreate,
    stage_exit_reason,
)
from workflows.shared import opt_out_status_key_in, should_continue_as_new

_CALL_RESULTS = {
    "connected": StepResult.CALL_CONNECTED,
    "voicemail": StepResult.CALL_VOICEMAIL,
    "no_answer": StepResult.CALL_NO_ANSWER,
}
HISTORY_KEPT = 200  # step records the view keeps (the DB keeps them all)

# Runs recorded before a past-due contacting step was re-planned into business hours sent it at once: they replay
# without the marker and keep doing so; new runs record it.
REPLAN_PAST_DUE_PATCH = "replan-past-due-outside-hours"

# Runs recorded before a pause only held the schedule re-planned a step whose fire time passed during a pause from
# the resume (a wait paused before it began started over in full): they replay without the marker; new runs keep
# the step's planned times.
PAUSE_HOLDS_SCHEDULE_PATCH = "pause-holds-schedule"

# Runs recorded before a due send folded its bookkeeping into one activity (`sequence.send_message`) reserved the cap
# slot, sent and mirrored in separate activities: they replay without the marker and keep doing so.
FOLDED_SEND_PATCH = "due-send-folded"

# A worker of the release before the outbox's exit-stage refusal records such a refusal (from a newer worker's
# activity or drain) as a failed step and goes on; runs that did replay without the marker and keep doing so.
EXIT_STAGE_REFUSAL_PATCH = "send-refused-at-exit-stage"

# A send found its enrollment paused by a person whose `pause` update has not reached this workflow yet (queued behind
# a burst): the workflow waits this long for it before asking again.
PAUSE_UPDATE_WAIT = timedelta(minutes=1)

# Scheduled sends (`SequenceWorkflowInput.scheduled_sends`): a send planned at least this far ahead is written for the
# drain, and the workflow sleeps past it. It wakes before the step after the send falls due (half the time between
# them, at most SCHEDULED_WAKE_LEAD before it), so a send after a wait is written ahead in turn; a step due within
# SCHEDULED_SIGNAL_AFTER of the send has the drain signal the workflow instead (waking at SCHEDULED_SIGNAL_FALLBACK
# after the send's time at the latest).
SCHEDULE_AHEAD = timedelta(seconds=1)
SCHEDULED_WAKE_LEAD = timedelta(hours=1)
SCHEDULED_SIGNAL_AFTER = timedelta(minutes=1)
SCHEDULED_SIGNAL_FALLBACK = timedelta(hours=1)

S = TypeVar("S", bound=StepBase)


class Hold(Enum):
    """How a hold ended."""

    ENDED = "ended"  # the enrollment ended (an exit rule, a stop)
    DONE = "done"  # what the hold waited for came (a reply, a closed task)
    DUE = "due"  # the deadline came
    LATE = "late"  # the deadline passed while the enrollment was paused


@dataclass(frozen=True)
class StepContext(Generic[S]):
    """One execution of one step: what a handler acts on and what its records carry."""

    step: S
    index: int
    number: int  # 1-based count of step executions over the enrollment's life (idempotency keys)
    plan: StepPlan


@dataclass(frozen=True)
class Advance:
    """Go on with step `index` (None: the sequence is complete) once `ready_at` comes."""

    index: int | None
    ready_at: datetime


@dataclass(frozen=True)
class Ended:
    """The enrollment ended during the step."""


ENDED = Ended()
StepOutcome = Advance | Ended


@dataclass(frozen=True)
class Held:
    """The send found its enrollment paused by a person: nothing went out; it goes out after the resume."""


HELD = Held()
StepHandler = Callable[[StepContext[Any]], Awaitable[StepOutcome]]


@dataclass(frozen=True)
class Prewrite:
    """What a folded send wrote besides its own step: step rows, and the row's view at the next hold (projected)."""

    records: dict[tuple[int, str], StepRecord]
    view: dict[str, Any]


def _projection(view: EnrollmentView) -> dict[str, Any]:
    """The enrollment row's columns a view sets (its revision and history aside)."""
    return view.model_dump(exclude={"revision", "history"})


@dataclass(frozen=True)
class ActionResult:
    """What an action (a send, a status change) did, as its step record says it."""

    result: StepResult
    detail: str | None = None
    message_id: str | None = None  # a send: the stored message


def initial_view(data: SequenceWorkflowInput, now: datetime) -> EnrollmentView:
    if data.carried_over is not None:
        return data.carried_over
    first = data.definition.steps[0] if data.definition.steps else None
    return EnrollmentView(
        enrollment_id=data.enrollment_id,
        tenant_id=data.tenant_id,
        lead_id=data.lead_id,
        sequence_id=data.sequence_id,
        sequence_version_id=data.sequence_version_id,
        current_step_index=0 if first else None,
        current_step_id=first.id if first else None,
        current_step_type=_type_of(first) if first else None,
        started_at=data.start_at or now,
    )


def _failure_type(err: ActivityError) -> str | None:
    cause = err.cause
    return cause.type if isinstance(cause, ApplicationError) else None


def _type_of(step: StepBase) -> str:
    return str(getattr(step, "type", type(step).__name__))


@workflow.defn
class SequenceWorkflow:
    @workflow.init
    def __init__(self, data: SequenceWorkflowInput) -> None:
        self._input = data
        self._definition = data.definition
        self._view = initial_view(data, workflow.now())
        self._holding_for_reply = False  # a wait_for_reply step is in its hold: a reply follows its on_reply
        self._reply: LeadReplied | None = None
        self._task_outcome: TaskOutcome | None = None  # set by the task updates
        self._task_closing = False
        self._own_status_key: str | None = None  # a set_status step is moving the lead there: not an exit signal
        self._resumed_at: datetime | None = None
        self._due_at = self._view.next_action_at  # when the enrollment acts next; the view hides it while paused
        # A reply received after this ends the enrollment; its sends check it against the stored reply at the moment
        # they send, so a reply whose signal is still queued (a burst ahead of it) stops them all the same. Moves on
        # past each reply this workflow handled without ending (a `wait_for_reply` that continues).
        self._reply_horizon = data.reply_horizon or workflow.now()
        self._mirror_lock = asyncio.Lock()
        self._prewrite: Prewrite | None = None  # what the last folded send wrote, until the next hold checks it
        self._ai_draft: PendingDraft | None = None  # an ai_message step's draft waiting for a person
        self._ai_decision: DraftDecision | None = None  # set by decide_ai_draft
        self._ai_outcome: DraftOutcome | ApplicationError | None = None  # the answer decide_ai_draft waits for
        self._call_id: uuid.UUID | None = None  # a call step's call, whose `call_ended` the step waits for
        self._call_ended: SequenceCallEnded | None = None
        # Ended by a send that found the person's stop recorded before this workflow heard of it: that person's `stop`
        # update, when it comes, answers the view instead of "already ended".
        self._stop_update_due = False
        # A send written ahead for the drain (its step execution, the end of its outbox key), and its outcome once
        # the drain signalled it.
        self._scheduled_step: str | None = None
        self._scheduled_outcome: ScheduledSendOutcome | None = None
        # Step type → handler. A type missing here (a newer worker's) is recorded as skipped.
        self._handlers: dict[type[StepBase], StepHandler] = {
            SendWhatsAppStep: self._send_step,
            WaitStep: self._wait_step,
            WaitForReplyStep: self._wait_for_reply_step,
            TaskStep: self._task_step,
            SetStatusStep: self._set_status_step,
            AiMessageStep: self._ai_message_step,
            CallStep: self._call_step,
        }

    # Run -------------------------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: SequenceWorkflowInput) -> EnrollmentView:
        announced: asyncio.Task[None] | None = None
        if data.carried_over is None:
            # Told in the background: a lead without a running workflow makes the signal fail only after the server
            # looked for it, and the first step must not wait for that.
            announced = asyncio.create_task(self._tell_lead(ENROLLMENT_STARTED_SIGNAL))
        index = data.resume_index if data.carried_over is not None else self._view.current_step_index
        ready_at = data.ready_at or self._view.started_at
        while index is not None and not self._view.status.ended:
            if should_continue_as_new(self._input.max_history_events):
                if announced is not None:
                    await announced
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    data.model_copy(
                        update={
                            "carried_over": self._view,
                            "resume_index": index,
                            "ready_at": ready_at,
                            "reply_horizon": self._reply_horizon,
                        }
                    )
                )
            outcome = await self._run_step(index, ready_at)
            if isinstance(outcome, Ended):
                break
            index, ready_at = outcome.index, outcome.ready_at
        if not self._view.status.ended:
            self._end(EnrollmentStatus.COMPLETED, None, None)
        await self._close_open_task(TaskOutcome.CANCELLED)
        await self._mirror()
        if announced is not None:
            await announced  # "ended" must not overtake "started"
        await self._tell_lead(ENROLLMENT_ENDED_SIGNAL)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    async def _run_step(self, index: int, ready_at: datetime) -> StepOutcome:
        """Plan step `index`, wait until it is due (in business hours, with a daily-cap slot), then hand it over."""
        step = self._definition.steps[index]
        number = self._view.steps_run + 1
        cap = self._definition.settings.daily_cap.for_channel(step.capped_channel)
        deferrals = 0
        late = False  # the step's fire time passed while the enrollment was paused
        while True:
            plan = plan_step(
                self._definition,
                index,
                ready_at=ready_at,
                timezone=self._input.lead_timezone,
                status_stages=self._input.status_stages,
            )
            self._change(
                current_step_index=index,
                current_step_id=step.id,
                current_step_type=_type_of(step),
                next_action_at=plan.fire_at,
            )
            await self._mirror(from_loop=True)
            ctx = StepContext(step=step, index=index, number=number, plan=plan)
            sent: StepOutcome | DailySendDecision | Held | None = None
            if type(step) is SendWhatsAppStep and self._schedules(plan, late):
                # None: taken back unsent (an end, a pause, or the drain never came to it); the step goes on below.
                sent = await self._scheduled_send(cast("StepContext[SendWhatsAppStep]", ctx), cap)
            if sent is None:
                reached = await self._hold(plan.fire_at)
                if reached is Hold.ENDED:
                    return ENDED
                if reached is Hold.LATE:
                    if not workflow.patched(PAUSE_HOLDS_SCHEDULE_PATCH):
                        ready_at = workflow.now()
                        continue
                    # A pause holds the schedule, it does not move it: the step acts now on its planned times (a
                    # wait ends when it would have ended), like a step that was paused after it began.
                    late = True
                if self._outside_hours(step) and workflow.patched(REPLAN_PAST_DUE_PATCH):
                    # The plan is past (a pause, a backlog of starts, a start_at in the past) and now is outside the
                    # lead's hours: plan again from now, so business hours still apply.
                    ready_at = workflow.now()
                    continue
                if type(step) is SendWhatsAppStep and workflow.patched(FOLDED_SEND_PATCH):
                    sent = await self._folded_send(cast("StepContext[SendWhatsAppStep]", ctx), cap, late)
            if isinstance(sent, Held):
                if not await self._wait_out_pause():
                    return ENDED
                ready_at = workflow.now()  # planned again: business hours apply to the held send
                continue
            if isinstance(sent, DailySendDecision):
                deferrals += 1
                await self._record(ctx, StepResult.DEFERRED, sent.reason, times=deferrals)
                ready_at = sent.defer_until or workflow.now()
                continue
            if sent is not None:
                return sent
            if cap is not None:
                # The send counts on the tenant day it goes out (now), not the day it was planned for: a step planned
                # in the past (a backlog, a start_at days ago) must not take an earlier day's unused slots.
                decision = await self._reserve_send(ctx, workflow.now(), cap)
                if not decision.granted and decision.defer_until is not None:
                    deferrals += 1
                    await self._record(ctx, StepResult.DEFERRED, decision.reason, times=deferrals)
                    ready_at = decision.defer_until
                    continue
            break
        self._change(steps_run=number)
        outcome = await self._handlers.get(type(step), self._unknown_step)(ctx)
        resumed_at = self._resumed_at
        if late and isinstance(outcome, Advance) and resumed_at is not None and outcome.ready_at < resumed_at:
            # The step's own hold ended during the pause too: the next step is ready at the resume, as after a
            # pause in the middle of a hold, so the steps after it never catch up in a burst.
            return Advance(outcome.index, workflow.now())
        return outcome

    def _next(self, index: int, ready_at: datetime, *, replied: bool = False) -> StepOutcome:
        if self._view.status.ended:
            return ENDED
        following = next_index(self._definition, index, replied=replied, status_stages=self._input.status_stages)
        return Advance(following, ready_at)

    # Step handlers ---------------------------------------------------------------------------------------------------

    async def _send_step(self, ctx: StepContext[SendWhatsAppStep]) -> StepOutcome:
        done = await self._send(ctx.step, ctx.number)
        await self._record(ctx, done.result, done.detail)
        return self._next(ctx.index, ctx.plan.release_at)

    async def _wait_step(self, ctx: StepContext[WaitStep]) -> StepOutcome:
        release_at = ctx.plan.release_at
        self._change(next_action_at=release_at)
        await self._record(ctx, StepResult.WAITING, f"until {release_at.isoformat()}")
        following = self._next(ctx.index, release_at)
        if (
            self._input.scheduled_sends
            and isinstance(following, Advance)
            and following.index is not None
            and type(self._definition.steps[following.index]) is SendWhatsAppStep
        ):
            # The send after the wait holds for its own time, written ahead for the drain: the wait ends with it.
            return following
        reached = await self._hold(release_at)
        if reached is Hold.ENDED:
            return ENDED
        return self._next(ctx.index, workflow.now() if reached is Hold.LATE else release_at)

    async def _wait_for_reply_step(self, ctx: StepContext[WaitForReplyStep]) -> StepOutcome:
        step, until = ctx.step, ctx.plan.release_at
        self._reply = None
        self._holding_for_reply = True
        self._change(next_action_at=until)
        await self._mirror()
        try:
            reached = await self._hold(until, done=lambda: self._reply is not None)
        finally:
            self._holding_for_reply = False
        if reached is Hold.ENDED:
            return ENDED
        if reached is Hold.DONE:
            await self._record(ctx, StepResult.REPLIED)
            following = self._next(ctx.index, workflow.now(), replied=True)
            if isinstance(following, Advance) and following.index is None and step.on_reply == "exit":
                self._end(EnrollmentStatus.EXITED, EXIT_REPLIED, REPLIED_DETAIL)
            return following
        await self._record(ctx, StepResult.NO_REPLY)
        following = self._next(ctx.index, workflow.now() if reached is Hold.LATE else until)
        if isinstance(following, Advance) and following.index is None and step.on_timeout == "exit":
            self._end(EnrollmentStatus.EXITED, EXIT_NO_REPLY, f"no reply within {step.timeout.describe()}")
        return following

    async def _task_step(self, ctx: StepContext[TaskStep]) -> StepOutcome:
        step, fired_at = ctx.step, ctx.plan.fire_at
        due_at = add_duration(fired_at, step.due_in, zone(self._input.lead_timezone))
        info = workflow.info()
        created = await workflow.execute_activity(
            CREATE_TASK,
            TaskToCreate(
                tenant_id=self._input.tenant_id,
                lead_id=self._input.lead_id,
                enrollment_id=self._input.enrollment_id,
                step_id=step.id or "",
                key=f"{info.workflow_id}:task:{step.id}:{ctx.number}",
                title=render(step.title, self._input.lead_fields).text,
                description=render(step.description, self._input.lead_fields).text if step.description else None,
                due_at=due_at,
                assignee=step.assignee,
                created_at=workflow.now(),
                blocks_enrollment=step.wait_for_completion,
            ),
            result_type=CreatedTask,
            **DB_WRITE,
        )
        if not step.wait_for_completion:
            await self._record(ctx, StepResult.TASK_CREATED, str(created.task_id))
            return self._next(ctx.index, fired_at)
        self._task_outcome = None
        self._task_closing = False
        # Waiting on a person: nothing is due on the enrollment's side (the task carries its own due time).
        self._change(open_task_id=created.task_id, next_action_at=None)
        await self._record(ctx, StepResult.TASK_CREATED, str(created.task_id))
        reached = await self._hold(due_at, done=lambda: self._task_outcome is not None)
        if reached in (Hold.DUE, Hold.LATE):
            await workflow.execute_activity(
                ESCALATE_OVERDUE_TASK,
                OverdueTask(
                    tenant_id=self._input.tenant_id,
                    lead_id=self._input.lead_id,
                    task_id=created.task_id,
                    title=render(step.title, self._input.lead_fields).text,
                    due_at=due_at,
                    key=f"{info.workflow_id}:task:{created.task_id}:overdue",
                ),
                **DB_WRITE,
            )
            await self._record(ctx, StepResult.TASK_OVERDUE, str(created.task_id))
            self._change(next_action_at=None)
            await self._mirror()
            reached = await self._hold(None, done=lambda: self._task_outcome is not None)
        if reached is Hold.ENDED:
            return ENDED
        closed = StepResult.TASK_COMPLETED if self._task_outcome == TaskOutcome.COMPLETED else StepResult.TASK_SKIPPED
        await self._record(ctx, closed, str(created.task_id))
        return self._next(ctx.index, workflow.now())

    async def _set_status_step(self, ctx: StepContext[SetStatusStep]) -> StepOutcome:
        done = await self._move_lead(ctx.step.status, f"step {ctx.step.id} of the sequence")
        await self._record(ctx, done.result, done.detail)
        return self._next(ctx.index, ctx.plan.release_at)

    async def _call_step(self, ctx: StepContext[CallStep]) -> StepOutcome:
        """Start the call (a CallWorkflow), wait for its outcome, and follow the step's branch for it."""
        step, info = ctx.step, workflow.info()
        self._call_id, self._call_ended = None, None
        try:
            started = await workflow.execute_activity(
                START_SEQUENCE_CALL,
                SequenceCallRequest(
                    tenant_id=self._input.tenant_id,
                    tenant_slug=self._input.tenant_slug,
                    lead_id=self._input.lead_id,
                    enrollment_workflow_id=info.workflow_id,
                    attempt_key=f"seq:{self._input.enrollment_id}:{ctx.number}",
                    business_hours=self._definition.settings.business_hours,
                ),
                result_type=SequenceCallStarted,
                summary=f"call step {step.id}",
                **SEQUENCE_CALL_START,
            )
        except ActivityError as err:
            cause = err.cause
            await self._record(ctx, StepResult.FAILED, cause.message if isinstance(cause, FailureError) else str(cause))
            return self._next(ctx.index, workflow.now())
        self._call_id = started.call_id
        until = add_duration(workflow.now(), step.wait_up_to, zone(self._input.lead_timezone))
        self._change(next_action_at=until)
        await self._record(ctx, StepResult.CALL_PLACED, started.workflow_id)
        reached = await self._hold(until, done=lambda: self._call_ended is not None)
        ended = self._call_ended
        self._call_id = None
        if reached is Hold.ENDED:
            return ENDED
        disposition = ended.disposition if ended is not None else None
        branch: CallOutcomeBranch = sequence_branch(disposition) if disposition is not None else "no_answer"
        detail = disposition or f"no outcome within {step.wait_up_to.describe()}"
        await self._record(ctx, _CALL_RESULTS[branch], detail)
        if step.on(branch) == "exit":
            self._end(EnrollmentStatus.EXITED, f"call_{branch}", f"the call ended {detail}")
            return ENDED
        return self._next(ctx.index, workflow.now())

    async def _ai_message_step(self, ctx: StepContext[AiMessageStep]) -> StepOutcome:
        step = ctx.step
        key = f"{workflow.info().workflow_id}:step:{step.id}:{ctx.number}"
        composed = await self._compose(step, key)
        if composed.fallback_reason is not None:
            await workflow.execute_activity(
                NOTE_AI_MESSAGE_FALLBACK,
                AiMessageFallback(
                    tenant_id=self._input.tenant_id,
                    lead_id=self._input.lead_id,
                    enrollment_id=self._input.enrollment_id,
                    step_id=step.id or "",
                    key=key,
                    reason=composed.fallback_reason,
                ),
                **DB_WRITE,
            )
            done = await self._send(self._as_send(step, step.fallback_text), ctx.number)
            await self._record(ctx, done.result, f"fallback text ({composed.fallback_reason}): {done.detail}")
            return self._next(ctx.index, ctx.plan.release_at)
        needs_approval = composed.needs_approval or ("step_approval" if step.approval else None)
        if needs_approval is None:
            done = await self._send(self._as_send(step, composed.text), ctx.number)
            await self._record(
                ctx, done.result, f"written by the AI agent (v{composed.settings_version}): {done.detail}"
            )
            return self._next(ctx.index, ctx.plan.release_at)
        return await self._ai_draft_step(ctx, key, composed, needs_approval)

    async def _ai_draft_step(
        self, ctx: StepContext[AiMessageStep], key: str, composed: AiMessageComposed, reason: str
    ) -> StepOutcome:
        """The written message waits as a draft until a person decides, it expires, or the enrollment ends."""
        ref = await workflow.execute_activity(
            SAVE_AI_DRAFT,
            AiDraftInput(
                tenant_id=self._input.tenant_id,
                lead_id=self._input.lead_id,
                workflow_id=workflow.info().workflow_id,
                turn_key=key,
                text=composed.text,
                reason=reason,
                settings_version=composed.settings_version,
            ),
            result_type=AiDraftRef,
            **DB_WRITE,
        )
        draft = PendingDraft(draft_id=ref.draft_id, turn=ctx.number, text=composed.text, step=key)
        self._ai_draft, self._ai_decision, self._ai_outcome = draft, None, None
        expires_at = workflow.now() + timedelta(minutes=composed.draft_timeout_minutes)
        self._change(next_action_at=expires_at)
        await self._record(ctx, StepResult.DRAFT_WAITING, str(draft.draft_id))
        try:
            reached = await self._hold(expires_at, done=lambda: self._ai_decision is not None)
        finally:
            self._ai_draft = None
        decision = self._ai_decision
        if reached is Hold.ENDED:
            await settle_ai_draft(self._input, draft, "withdrawn", reason="the enrollment ended")
            if decision is not None:
                self._ai_outcome = ApplicationError(
                    "the enrollment ended before the decision applied; the draft was withdrawn",
                    type=WorkflowFailure.AI_DRAFT_NOT_PENDING,
                    non_retryable=True,
                )
            return ENDED
        if decision is None:
            await settle_ai_draft(self._input, draft, "expired", reason="nobody approved it in time")
            await self._record(ctx, StepResult.DRAFT_EXPIRED, str(draft.draft_id))
            return self._next(ctx.index, workflow.now())
        if not decision.approve:
            await settle_ai_draft(self._input, draft, "rejected", actor=decision.actor, reason=decision.reason)
            self._ai_outcome = DraftOutcome(draft_id=draft.draft_id, status="rejected")
            await self._record(ctx, StepResult.DRAFT_REJECTED, str(draft.draft_id))
            return self._next(ctx.index, workflow.now())
        text = decision.text or draft.text
        done = await self._send(self._as_send(ctx.step, text), ctx.number)
        if done.result == StepResult.SENT:
            await settle_ai_draft(
                self._input, draft, "approved", actor=decision.actor, final_text=text, message_id=done.message_id
            )
            self._ai_outcome = DraftOutcome(draft_id=draft.draft_id, status="approved", message_id=done.message_id)
        else:
            await settle_ai_draft(self._input, draft, "failed", actor=decision.actor, reason=done.detail)
            self._ai_outcome = ApplicationError(
                f"the draft was not sent: {done.detail}", type=WorkflowFailure.AI_DRAFT_NOT_SENT, non_retryable=True
            )
        await self._record(ctx, done.result, f"AI draft approved by {decision.actor}: {done.detail}")
        return self._next(ctx.index, workflow.now())

    async def _unknown_step(self, ctx: StepContext[StepBase]) -> StepOutcome:
        await self._record(ctx, StepResult.SKIPPED, "this worker does not know the step type")
        return self._next(ctx.index, ctx.plan.release_at)

    # Actions ---------------------------------------------------------------------------------------------------------

    def _send_input(self, step: SendWhatsAppStep, number: int) -> SendWhatsAppInput:
        message = render_message(step, self._input.lead_fields)
        template = message.template or message.fallback_template
        return SendWhatsAppInput(
            tenant_id=str(self._input.tenant_id),
            lead_id=str(self._input.lead_id),
            workflow_id=workflow.info().workflow_id,
            step=f"step:{step.id}:{number}",
            text=message.text,
            template=message.template.name if message.template else None,
            template_language=template.language if template else None,
            template_parameters=list(template.parameters) if template else [],
            fallback_template=message.fallback_template.name if message.fallback_template else None,
            requested_by=f"sequence:{self._input.sequence_id}",
            # A send never waits in a reply hold: a reply now ends the enrollment if `exit_on_reply` says so.
            stop_on_inbound_after=self._reply_horizon if self._definition.settings.exit_on_reply else None,
            exit_on_stages=list(self._definition.settings.exit_on_stages),
        )

    async def _send(self, step: SendWhatsAppStep, number: int) -> ActionResult:
        while True:
            try:
                sent = await workflow.execute_activity(
                    SEND_WHATSAPP_MESSAGE,
                    self._send_input(step, number),
                    result_type=SendWhatsAppResult,
                    summary=f"send step {step.id}",
                    **SEQUENCE_SEND,
                )
            except ActivityError as err:
                if _failure_type(err) == ENROLLMENT_PAUSED and await self._wait_out_pause():
                    continue  # resumed: the same send (the same outbox key) asks again
                return await self._send_failed(err)
            return ActionResult(StepResult.SENT, f"{sent.mode} {sent.provider_message_id}", sent.message_id)

    async def _wait_out_pause(self) -> bool:
        """A send found the enrollment paused by a person before the `pause` update reached this workflow: wait for
        the update (up to PAUSE_UPDATE_WAIT, then the send asks again), then for the resume. False: it ended."""
        try:
            await workflow.wait_condition(
                lambda: self._view.status != EnrollmentStatus.ACTIVE,
                timeout=PAUSE_UPDATE_WAIT,
                timeout_summary="paused by a person: its update",
            )
        except TimeoutError:
            pass
        await workflow.wait_condition(lambda: self._view.status != EnrollmentStatus.PAUSED)
        return not self._view.status.ended

    async def _send_failed(self, err: ActivityError) -> ActionResult:
        """What a refused send means for the enrollment (an opt-out, a reply, a gone lead end it)."""
        cause = err.cause
        details: object = None
        if isinstance(cause, ApplicationError):
            try:
                details = cause.details[0] if cause.details else None
            except Exception:  # details that cannot be decoded: as if there were none
                details = None
        return await self._send_refused(
            SendFailure(
                kind=cause.type if isinstance(cause, ApplicationError) else None,
                message=cause.message if isinstance(cause, FailureError) else str(cause),
                details=details if isinstance(details, dict) else None,
            )
        )

    async def _send_refused(self, failure: SendFailure) -> ActionResult:
        kind, reason = failure.kind, failure.message
        if kind == RECIPIENT_OPTED_OUT:
            # WhatsApp says the person stopped our messages: the lead opts out too (its other enrollments end).
            self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, reason)
            await self._move_lead(opt_out_status_key_in(failure.details), reason)
        elif kind == LEAD_OPTED_OUT:
            self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, reason)
        elif kind == UNDELIVERABLE:
            self._end(EnrollmentStatus.EXITED, EXIT_UNDELIVERABLE, reason)
        elif kind == LEAD_GONE_SEND:
            self._end(EnrollmentStatus.EXITED, EXIT_LEAD_DELETED, reason)
        elif kind == ENROLLMENT_STOPPED:
            # A person stopped the enrollment; their `stop` update has not reached this workflow yet.
            if not self._view.status.ended:
                recorded = failure.details or {}
                self._end(EnrollmentStatus.STOPPED, EXIT_STOPPED, str(recorded.get("detail") or reason))
                self._stop_update_due = True
            return ActionResult(StepResult.STOPPED, reason)
        elif kind == LEAD_AT_EXIT_STAGE and workflow.patched(EXIT_STAGE_REFUSAL_PATCH):
            # The lead's status change ends the enrollment; its signal has not reached this workflow yet.
            if not self._view.status.ended:
                stage = Stage((failure.details or {}).get("stage", Stage.LOST))
                self._end(EnrollmentStatus.EXITED, stage_exit_reason(stage), reason)
            return ActionResult(StepResult.EXITED, reason)
        elif kind == LEAD_REPLIED:
            if not self._view.status.ended:
                # The reply's signal has not reached this workflow yet (it is ignored when it comes).
                self._change(replies=self._view.replies + 1)
                self._end(EnrollmentStatus.EXITED, EXIT_REPLIED, REPLIED_DETAIL)
            return ActionResult(StepResult.REPLIED, reason)
        return ActionResult(StepResult.FAILED, f"{kind or 'error'}: {reason}")

    # The folded due send ---------------------------------------------------------------------------------------------

    async def _folded_send(
        self, ctx: StepContext[SendWhatsAppStep], cap: int | None, late: bool
    ) -> StepOutcome | DailySendDecision | Held:
        """A due send step in one activity: cap slot, send, its step row and the enrollment row as it will be at the
        next hold (`sequence.send_message`). Over the cap: the decision, nothing sent. Two workflow tasks a send."""
        step, number = ctx.step, ctx.number
        due = self._due_send(ctx, cap, workflow.now(), late)
        try:
            result = await workflow.execute_activity(
                SEND_MESSAGE, due, result_type=DueSendResult, summary=f"send step {step.id}", **SEQUENCE_SEND
            )
        except ActivityError as err:
            if _failure_type(err) == ENROLLMENT_PAUSED:
                return HELD
            self._change(steps_run=number)
            done = await self._send_failed(err)
            await self._record(ctx, done.result, done.detail)
            return self._after_late(self._next(ctx.index, ctx.plan.release_at), late)
        if result.deferred is not None:
            return result.deferred
        await self._record_sent(ctx, due, result.detail)
        return self._after_late(self._next(ctx.index, ctx.plan.release_at), late)

    def _due_send(self, ctx: StepContext[SendWhatsAppStep], cap: int | None, at: datetime, late: bool) -> DueSend:
        """The send of this step going out at `at`, with its bookkeeping: the cap reservation, its step row and the
        rows and view as they will be at the next hold. Takes a revision for the write: what follows it is newer."""
        self._change()
        sent_step = StepRecord(
            number=ctx.number,
            index=ctx.index,
            step_id=ctx.step.id or "",
            type=_type_of(ctx.step),
            planned_at=ctx.plan.fire_at,
            fired_at=at,
            result=StepResult.SENT.value,
        )
        after_view, after_steps = self._after_send(ctx, late, at=at)
        return DueSend(
            send=self._send_input(ctx.step, ctx.number),
            sent_step=sent_step,
            reservation=self._reservation(ctx, at, cap) if cap is not None else None,
            after=after_steps,
            after_view=after_view.model_copy(update={"revision": self._view.revision}),
            after_exits_on_reply_after=self._reply_stop(after_view, holding_for_reply=False),
            tenant_timezone=self._input.tenant_timezone,
        )

    async def _record_sent(
        self, ctx: StepContext[SendWhatsAppStep], due: DueSend, detail: str, fired_at: datetime | None = None
    ) -> None:
        """The step sent, as the send's own write recorded it (rows and view), which the next hold checks."""
        self._change(steps_run=ctx.number)
        record = due.sent_step.model_copy(update={"detail": detail, "fired_at": fired_at or due.sent_step.fired_at})
        self._prewrite = Prewrite(
            records={(r.number, r.result): r for r in (record, *due.after)}, view=_projection(due.after_view)
        )
        await self._record(ctx, StepResult.SENT, detail)

    def _after_send(
        self, ctx: StepContext[SendWhatsAppStep], late: bool, at: datetime | None = None
    ) -> tuple[EnrollmentView, tuple[StepRecord, ...]]:
        """The view this workflow will have when it next waits, if the send goes out (now, or at `at`) and nothing
        else happens: the next step planned (and a wait that begins at once, begun). Anything else happening shows
        at that hold as a difference, and is mirrored then."""
        sent_at = at or workflow.now()
        view = self._view.model_copy(update={"steps_run": ctx.number})
        following = self._after_late(self._next(ctx.index, ctx.plan.release_at), late)
        if not isinstance(following, Advance) or following.index is None:
            return view, ()
        nxt = self._definition.steps[following.index]
        plan = plan_step(
            self._definition,
            following.index,
            ready_at=following.ready_at,
            timezone=self._input.lead_timezone,
            status_stages=self._input.status_stages,
        )
        view = view.model_copy(
            update={
                "current_step_index": following.index,
                "current_step_id": nxt.id,
                "current_step_type": _type_of(nxt),
                "next_action_at": plan.fire_at,
            }
        )
        if type(nxt) is not WaitStep or plan.fire_at > sent_at:
            return view, ()
        waiting = StepRecord(
            number=ctx.number + 1,
            index=following.index,
            step_id=nxt.id or "",
            type=_type_of(nxt),
            planned_at=plan.fire_at,
            fired_at=plan.fire_at,
            result=StepResult.WAITING.value,
            detail=f"until {plan.release_at.isoformat()}",
        )
        return view.model_copy(update={"steps_run": ctx.number + 1, "next_action_at": plan.release_at}), (waiting,)

    # The scheduled send ----------------------------------------------------------------------------------------------

    def _schedules(self, plan: StepPlan, late: bool) -> bool:
        """Whether this send is written ahead for the drain: the enrollment was started so, and it is due ahead."""
        return (
            self._input.scheduled_sends
            and not late
            and self._view.status == EnrollmentStatus.ACTIVE
            and plan.fire_at >= workflow.now() + SCHEDULE_AHEAD
        )

    async def _scheduled_send(
        self, ctx: StepContext[SendWhatsAppStep], cap: int | None
    ) -> StepOutcome | DailySendDecision | Held | None:
        """The due send written ahead for the drain (`sequence.schedule_send`), the workflow asleep past its time.

        Woken by its timer (before the step after the send), by the drain's signal, or by an end or a pause, it takes
        the send back or reads what became of it (`sequence.settle_scheduled_send`). None: taken back unsent; else as
        `_folded_send` answers."""
        step, fire_at = ctx.step, ctx.plan.fire_at
        await self._settle_prewrite()  # the row shows this view before the drain's write, which must be newer
        due = self._due_send(ctx, cap, fire_at, late=False)
        next_at = due.after_view.next_action_at
        signal = next_at is None or next_at - fire_at < SCHEDULED_SIGNAL_AFTER
        if signal or next_at is None:
            wake_at = fire_at + SCHEDULED_SIGNAL_FALLBACK
        else:
            wake_at = max(fire_at + (next_at - fire_at) / 2, next_at - SCHEDULED_WAKE_LEAD)
        scheduled = ScheduledDueSend(due=due, due_at=fire_at, signal_when_settled=signal)
        # Listening before the row exists: a send due at once can be settled and signalled before this workflow hears
        # that the row was written.
        self._scheduled_step, self._scheduled_outcome = due.send.step, None
        try:
            await workflow.execute_activity(
                SCHEDULE_SEND, scheduled, result_type=str, summary=f"schedule send step {step.id}", **DB_WRITE
            )
            await self._hold(
                wake_at,
                done=lambda: self._scheduled_outcome is not None or self._view.status != EnrollmentStatus.ACTIVE,
            )
            outcome = await workflow.execute_activity(
                SETTLE_SCHEDULED_SEND,
                scheduled.key,
                result_type=ScheduledSendOutcome,
                summary=f"settle send step {step.id}",
                **SCHEDULED_SEND_SETTLE,
            )
        finally:
            self._scheduled_step = None
        return await self._settled(ctx, outcome, due)

    async def _settled(
        self,
        ctx: StepContext[SendWhatsAppStep],
        outcome: ScheduledSendOutcome,
        due: DueSend,
    ) -> StepOutcome | DailySendDecision | Held | None:
        """What a scheduled send's outcome means for the enrollment, as for a folded send's."""
        if outcome.state is ScheduledSendState.CANCELLED:
            return None
        if outcome.state is ScheduledSendState.HELD:
            return ENDED if self._view.status.ended else HELD
        if outcome.state is ScheduledSendState.DEFERRED and outcome.result and outcome.result.deferred:
            return ENDED if self._view.status.ended else outcome.result.deferred
        if outcome.state is ScheduledSendState.SENT and outcome.result is not None:
            await self._record_sent(ctx, due, outcome.result.detail, outcome.result.fired_at)
        else:
            self._change(steps_run=ctx.number)
            failure = outcome.failure or SendFailure(message=f"the scheduled send ended {outcome.state.value}")
            done = await self._send_refused(failure)
            await self._record(ctx, done.result, done.detail)
        return self._next(ctx.index, ctx.plan.release_at)

    def _after_late(self, outcome: StepOutcome, late: bool) -> StepOutcome:
        resumed_at = self._resumed_at
        if late and isinstance(outcome, Advance) and resumed_at is not None and outcome.ready_at < resumed_at:
            return Advance(outcome.index, workflow.now())
        return outcome

    async def _settle_prewrite(self) -> None:
        """Before waiting: the row the folded send wrote is this view, or the view is mirrored now."""
        prewrite = self._prewrite
        if prewrite is None:
            return
        if _projection(self._view) == prewrite.view:
            self._prewrite = None
        else:
            await self._mirror()

    @staticmethod
    def _as_send(step: AiMessageStep, text: str) -> SendWhatsAppStep:
        """An AI message goes out as a text send step of the same id (the same outbox key, the same refusals)."""
        return SendWhatsAppStep(id=step.id, name=step.name, text=text, fallback_template=step.fallback_template)

    async def _compose(self, step: AiMessageStep, key: str) -> AiMessageComposed:
        """The model's message, or (its retries used up, or a refusal) why the fallback goes out instead."""
        try:
            return await workflow.execute_activity(
                COMPOSE_AI_MESSAGE,
                AiMessageRequest(
                    tenant_id=self._input.tenant_id,
                    lead_id=self._input.lead_id,
                    key=key,
                    instructions=render(step.instructions, self._input.lead_fields).text,
                ),
                result_type=AiMessageComposed,
                summary=f"AI message {step.id}",
                **AI_COMPOSE,
            )
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, FailureError) else str(cause)
            return AiMessageComposed(fallback_reason=f"the model failed: {reason}")

    async def _move_lead(self, status_key: str, reason: str) -> ActionResult:
        """The lead's status through its own workflow (activity → LeadWorkflow.change_status update)."""
        self._own_status_key = status_key
        try:
            result = await workflow.execute_activity(
                SET_LEAD_STATUS,
                LeadStatusToSet(
                    tenant_id=self._input.tenant_id,
                    tenant_slug=self._input.tenant_slug,
                    lead_id=self._input.lead_id,
                    status_key=status_key,
                    actor=f"sequence:{self._input.sequence_id}",
                    reason=reason[:500],
                ),
                result_type=LeadStatusSet,
                **SEQUENCE_SET_STATUS,
            )
        except ActivityError as err:
            cause = err.cause
            return ActionResult(StepResult.FAILED, cause.message if isinstance(cause, FailureError) else str(cause))
        finally:
            self._own_status_key = None
        return ActionResult(StepResult.STATUS_SET if result.applied else StepResult.FAILED, result.detail)

    # Waiting ---------------------------------------------------------------------------------------------------------

    def _outside_hours(self, step: StepBase) -> bool:
        """A step that contacts the lead, now outside the lead's business hours."""
        hours = self._definition.settings.business_hours
        return step.contacts_lead and not in_business_hours(workflow.now(), zone(self._input.lead_timezone), hours)

    async def _hold(self, deadline: datetime | None, done: Callable[[], bool] = lambda: False) -> Hold:
        """Wait until `deadline` (None: no deadline) or `done()`, interrupted at once by an end; paused time holds."""
        while True:
            if self._view.status.ended:
                return Hold.ENDED
            if done():
                return Hold.DONE
            if self._view.status == EnrollmentStatus.PAUSED:
                await workflow.wait_condition(lambda: self._view.status != EnrollmentStatus.PAUSED)
                if deadline is not None and workflow.now() > deadline and not self._view.status.ended and not done():
                    return Hold.LATE
                continue
            if self._prewrite is not None and (deadline is None or deadline > workflow.now()):
                await self._settle_prewrite()  # about to wait: the row must show this view
                continue
            if deadline is None:
                await workflow.wait_condition(lambda: self._view.status != EnrollmentStatus.ACTIVE or done())
                continue
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return Hold.DUE
            try:
                await workflow.wait_condition(
                    lambda: self._view.status != EnrollmentStatus.ACTIVE or done(),
                    timeout=remaining,
                    timeout_summary=f"step {self._view.current_step_id}",
                )
            except TimeoutError:
                continue  # the top of the loop tells an end or an event that came with the deadline from DUE

    # Signals from the LeadWorkflow -----------------------------------------------------------------------------------

    @workflow.signal(name=SCHEDULED_SEND_SETTLED_SIGNAL)
    def scheduled_send_settled(self, outcome: ScheduledSendOutcome) -> None:
        """From the drain: the send written ahead was settled (a send of an earlier step execution is ignored)."""
        if self._scheduled_step is not None and outcome.key.endswith(f":{self._scheduled_step}"):
            self._scheduled_outcome = outcome

    @workflow.signal(name=LEAD_REPLIED_SIGNAL)
    def lead_replied(self, reply: LeadReplied) -> None:
        if self._view.status.ended:
            return
        self._change(replies=self._view.replies + reply.messages)
        self._reply_horizon = max(self._reply_horizon, reply.received_at)
        if self._holding_for_reply:
            self._reply = reply
        elif self._definition.settings.exit_on_reply:
            self._end(EnrollmentStatus.EXITED, EXIT_REPLIED, REPLIED_DETAIL)

    @workflow.signal(name=LEAD_STAGE_CHANGED_SIGNAL)
    def lead_stage_changed(self, change: LeadStageChanged) -> None:
        if self._view.status.ended or change.status_key == self._own_status_key:
            return
        if change.stage == Stage.OPTED_OUT:
            self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, "the lead opted out")
        elif change.stage in self._definition.settings.exit_on_stages:
            reason = f"the lead moved to {change.status_key} ({change.stage.value})"
            self._end(EnrollmentStatus.EXITED, stage_exit_reason(change.stage), reason)

    @workflow.signal(name=LEAD_OPTED_OUT_SIGNAL)
    def lead_opted_out(self, opt_out: LeadOptedOut) -> None:
        if not self._view.status.ended:
            self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, opt_out.reason or "the lead opted out")

    @workflow.signal(name=SEQUENCE_CALL_ENDED_SIGNAL)
    def call_ended(self, ended: SequenceCallEnded) -> None:
        """The call of the running `call` step ended (its CallWorkflow tells); another call's news is ignored."""
        if ended.call_id == self._call_id:
            self._call_ended = ended

    @workflow.signal(name=LEAD_UNDELIVERABLE_SIGNAL)
    def lead_undeliverable(self, event: LeadUndeliverable) -> None:
        if not self._view.status.ended:
            self._end(
                EnrollmentStatus.EXITED, EXIT_UNDELIVERABLE, event.reason or "WhatsApp cannot deliver to the lead"
            )

    # Control updates -------------------------------------------------------------------------------------------------

    @workflow.update
    async def pause(self, control: EnrollmentControl) -> EnrollmentView:
        self._require(EnrollmentStatus.ACTIVE, "paused")
        self._set_enrollment_status(EnrollmentStatus.PAUSED, paused_at=workflow.now())
        await self._mirror()
        return self._view

    @pause.validator
    def _validate_pause(self, control: EnrollmentControl) -> None:
        self._require(EnrollmentStatus.ACTIVE, "paused")

    @workflow.update
    async def resume(self, control: EnrollmentControl) -> EnrollmentView:
        self._require(EnrollmentStatus.PAUSED, "resumed")
        self._resumed_at = workflow.now()
        # What fell due during the pause is due now.
        due_at = self._due_at if self._due_at is None else max(self._due_at, self._resumed_at)
        self._set_enrollment_status(EnrollmentStatus.ACTIVE, paused_at=None, next_action_at=due_at)
        await self._mirror()
        return self._view

    @resume.validator
    def _validate_resume(self, control: EnrollmentControl) -> None:
        self._require(EnrollmentStatus.PAUSED, "resumed")

    @workflow.update
    async def stop(self, control: EnrollmentControl) -> EnrollmentView:
        self._validate_stop(control)
        if self._stop_update_due:  # the send path applied this stop already
            self._stop_update_due = False
            return self._view
        detail = f"stopped by {control.actor}" + (f": {control.reason}" if control.reason else "")
        self._end(EnrollmentStatus.STOPPED, EXIT_STOPPED, detail)
        await self._mirror()
        return self._view

    @stop.validator
    def _validate_stop(self, control: EnrollmentControl) -> None:
        if self._view.status.ended and not self._stop_update_due:
            raise ApplicationError(
                f"the enrollment already ended ({self._view.status.value}); nothing to stop",
                type=ENROLLMENT_NOT_ACTIVE,
                non_retryable=True,
            )

    def _require(self, status: EnrollmentStatus, verb: str) -> None:
        current = self._view.status
        if current != status:
            raise ApplicationError(
                f"the enrollment is {current.value}; only a {status.value} enrollment can be {verb}",
                type=ENROLLMENT_NOT_ACTIVE,
                non_retryable=True,
            )

    # Task updates ----------------------------------------------------------------------------------------------------

    @workflow.update
    async def complete_task(self, action: TaskAction) -> EnrollmentView:
        return await self._act_on_task(action, TaskOutcome.COMPLETED)

    @complete_task.validator
    def _validate_complete_task(self, action: TaskAction) -> None:
        self._require_open_task(action)

    @workflow.update
    async def skip_task(self, action: TaskAction) -> EnrollmentView:
        return await self._act_on_task(action, TaskOutcome.SKIPPED)

    @skip_task.validator
    def _validate_skip_task(self, action: TaskAction) -> None:
        self._require_open_task(action)

    def _require_open_task(self, action: TaskAction) -> None:
        if self._view.open_task_id != action.task_id or self._task_closing:
            raise ApplicationError(
                f"task {action.task_id} is not open on this enrollment (already completed or skipped, or not its "
                "current step)",
                type=TASK_NOT_OPEN,
                non_retryable=True,
            )

    async def _act_on_task(self, action: TaskAction, outcome: TaskOutcome) -> EnrollmentView:
        self._require_open_task(action)  # again: a concurrent update may have taken it since validation
        self._task_closing = True
        await self._close_task_row(action.task_id, outcome, action.actor, action.note, action.outcome)
        self._task_outcome = outcome
        self._change(open_task_id=None)
        return self._view

    async def _close_open_task(self, outcome: TaskOutcome) -> None:
        task_id = self._view.open_task_id
        if task_id is None or self._task_closing:
            return
        self._task_closing = True
        await self._close_task_row(task_id, outcome, "system", f"the enrollment ended ({self._view.status.value})")
        self._change(open_task_id=None)

    async def _close_task_row(
        self, task_id: uuid.UUID, outcome: TaskOutcome, actor: str, note: str | None, result: str | None = None
    ) -> None:
        await workflow.execute_activity(
            CLOSE_TASK,
            TaskToClose(
                tenant_id=self._input.tenant_id,
                task_id=task_id,
                status=outcome.value,
                actor=actor,
                note=note,
                at=workflow.now(),
                outcome=result,
            ),
            **DB_WRITE,
        )

    # AI drafts -------------------------------------------------------------------------------------------------------

    @workflow.update
    async def decide_ai_draft(self, decision: DraftDecision) -> DraftOutcome:
        """A person approves (maybe edited) or rejects the waiting draft of an `ai_message` step."""
        self._validate_decide_ai_draft(decision)
        self._ai_decision = decision
        await workflow.wait_condition(lambda: self._ai_outcome is not None)
        outcome = self._ai_outcome
        if isinstance(outcome, ApplicationError):
            raise outcome
        assert outcome is not None
        return outcome

    @decide_ai_draft.validator
    def _validate_decide_ai_draft(self, decision: DraftDecision) -> None:
        draft = self._ai_draft
        if draft is None or draft.draft_id != decision.draft_id or self._ai_decision is not None:
            raise ApplicationError(
                "this draft is no longer waiting: it was decided, withdrawn when the enrollment ended, or expired",
                type=WorkflowFailure.AI_DRAFT_NOT_PENDING,
                non_retryable=True,
            )

    @workflow.query
    def view(self) -> EnrollmentView:
        return self._view

    # State, mirror, lead ---------------------------------------------------------------------------------------------

    def _change(self, **fields: object) -> None:
        if "next_action_at" in fields:
            self._due_at = cast("datetime | None", fields["next_action_at"])
        status = fields.get("status", self._view.status)
        # A paused enrollment has nothing due until a person resumes it (which shows the held time again), an ended one
        # nothing at all.
        shown = self._due_at if status == EnrollmentStatus.ACTIVE else None
        self._view = self._view.model_copy(
            update={**fields, "next_action_at": shown, "revision": self._view.revision + 1}
        )

    def _set_enrollment_status(self, status: EnrollmentStatus, **fields: object) -> None:
        self._change(status=status, **fields)
        workflow.upsert_search_attributes([search_attributes.ENROLLMENT_STATUS.value_set(status.value)])

    def _end(self, status: EnrollmentStatus, reason: str | None, detail: str | None) -> None:
        if self._view.status.ended:
            return
        self._set_enrollment_status(
            status, exit_reason=reason, exit_detail=detail, ended_at=workflow.now(), next_action_at=None, paused_at=None
        )

    async def _record(
        self, ctx: StepContext[Any], result: StepResult, detail: str | None = None, *, times: int = 1
    ) -> None:
        """Add a step record to the view and write it (with the view) to the DB."""
        prewritten = self._prewrite.records.get((ctx.number, result.value)) if self._prewrite else None
        record = prewritten or StepRecord(
            number=ctx.number,
            index=ctx.index,
            step_id=ctx.step.id or "",
            type=_type_of(ctx.step),
            planned_at=ctx.plan.fire_at,
            fired_at=workflow.now(),
            result=result.value,
            detail=detail,
            times=times,
        )
        self._change(history=(*self._view.history[-(HISTORY_KEPT - 1) :], record))
        await self._mirror(record, from_loop=True)

    async def _mirror(self, step: StepRecord | None = None, *, from_loop: bool = False) -> None:
        prewrite = self._prewrite
        if prewrite is not None:
            if from_loop and (step is None or (step.number, step.result) in prewrite.records):
                return  # the folded send wrote it; the next hold checks the row is this view (`_settle_prewrite`)
            self._prewrite = None  # mirrored now: the current view replaces what the send wrote
        async with self._mirror_lock:
            await workflow.execute_activity(
                MIRROR_ENROLLMENT,
                EnrollmentMirror(
                    view=self._view,
                    step=step,
                    exits_on_reply_after=self._reply_stop(self._view, holding_for_reply=self._holding_for_reply),
                ),
                **DB_WRITE,
            )

    def _reply_stop(self, view: EnrollmentView, *, holding_for_reply: bool) -> datetime | None:
        """After when a reply ends this enrollment (`lead_replied`), for the row: None when one would not (ended,
        `exit_on_reply` off, or a `wait_for_reply` step holding, which a reply moves on instead)."""
        if view.status.ended or holding_for_reply or not self._definition.settings.exit_on_reply:
            return None
        return self._reply_horizon

    async def _reserve_send(self, ctx: StepContext[Any], at: datetime, cap: int) -> DailySendDecision:
        return await workflow.execute_activity(
            RESERVE_DAILY_SEND, self._reservation(ctx, at, cap), result_type=DailySendDecision, **DB_WRITE
        )

    def _reservation(self, ctx: StepContext[Any], at: datetime, cap: int) -> DailySendReservation:
        return DailySendReservation(
            tenant_id=self._input.tenant_id,
            enrollment_id=self._input.enrollment_id,
            sequence_id=self._input.sequence_id,
            number=ctx.number,
            step_index=ctx.index,
            step_id=ctx.step.id or "",
            at=at,
            cap=cap,
            tenant_timezone=self._input.tenant_timezone,
            lead_timezone=self._input.lead_timezone,
            definition=self._definition,
            channel=ctx.step.capped_channel or "whatsapp",
            step_type=_type_of(ctx.step),
        )

    async def _tell_lead(self, signal: str) -> None:
        """Tell the lead's workflow this enrollment started or ended (best effort: it may have ended itself)."""
        link = EnrollmentLink(
            workflow_id=workflow.info().workflow_id,
            enrollment_id=self._input.enrollment_id,
            sequence_id=self._input.sequence_id,
        )
        handle = workflow.get_external_workflow_handle(
            lead_workflow_id(self._input.tenant_slug, str(self._input.lead_id))
        )
        try:
            await handle.signal(signal, link)
        except FailureError as err:
            workflow.logger.info("lead workflow of %s not told %s: %s", self._input.lead_id, signal, err.message)

"""SequenceWorkflow: one enrollment of one lead in one published sequence version.

Contract
- Id `enrollment:{tenant_slug}:{enrollment_id}` (sequence_types.enrollment_workflow_id); the API starts it with the
  USE_EXISTING conflict policy after the enrollment row commits. Search attributes TenantId, LeadId, SequenceId,
  EnrollmentStatus (active | paused | completed | exited | stopped; upserted on every change).
- Input `SequenceWorkflowInput`: the version's frozen definition (a running enrollment keeps the version it started
  with, whatever is published later), the lead's fields for `{{variables}}`, the lead's and the tenant's zones, the
  tenant's status stages.
- Schedule: every step is planned with `domain.sequences.schedule.plan_step` / `next_index` — the same functions the
  preview walks — so, with no reply and tasks done at their due time, the fire times equal the preview's. Sleeps are
  `workflow.wait_condition` with a timeout: a reply, exit signal, pause or stop interrupts them at once. A pause holds
  the schedule without moving it: on resume, a step that fell due during the pause acts at once on its planned times
  (business hours and the cap still apply), and a time that passed during the pause counts from the resume.
- Steps: `send_whatsapp` → the `whatsapp.send_message` activity (idempotency key `<workflow id>:step:<step id>:<n>`,
  n = step executions so far) after taking a daily-cap slot when the sequence has a cap (over the cap: deferred to
  the next window, never dropped); `wait`; `wait_for_reply` (reply → `on_reply`, timeout → `on_timeout`); `task` → a
  task row, then the `complete_task` / `skip_task` update (an overdue task gets one timeline escalation);
  `set_status` → the LeadWorkflow's `change_status` update (through an activity).
- Exit rules: a reply (exit_on_reply, or the wait_for_reply's on_reply), the lead reaching an `exit_on_stages` stage,
  an opt-out — signalled by the LeadWorkflow (`lead_replied`, `lead_stage_changed`, `lead_opted_out`), which learns of
  the enrollment from `enrollment_started` / `enrollment_ended` signals this workflow sends it.
- Updates `pause`, `resume`, `stop`, `complete_task`, `skip_task` validate first (a refused one never enters history;
  type EnrollmentNotActive / TaskNotOpen) and answer with the view after the change is written to the DB.
- Query `view() -> EnrollmentView`: status, current step, next action time, exit reason, history of steps.
- The enrollment row (and its step history rows) mirror the view through one idempotent activity (newest revision
  wins). Continues-as-new between steps when the history grows large, carrying the view and the position.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from core.queues import (
    DB_ACTIVITY_TIMEOUT,
    DB_RETRY,
    SEQUENCE_SEND_SCHEDULE_TO_CLOSE,
    SEQUENCE_SET_STATUS_SCHEDULE_TO_CLOSE,
    WHATSAPP_SEND_RETRY,
    WHATSAPP_SEND_START_TO_CLOSE,
)
from workflows import search_attributes
from workflows.ids import lead_workflow_id

with workflow.unsafe.imports_passed_through():
    from domain.sequences.preview import render_message
    from domain.sequences.schedule import StepPlan, add_duration, in_business_hours, next_index, plan_step, zone
    from domain.sequences.steps import SendWhatsAppStep, SetStatusStep, StepBase, TaskStep, WaitForReplyStep, WaitStep
    from domain.sequences.variables import render
    from domain.stages import Stage
    from domain.whatsapp_messages import (
        LEAD_GONE_SEND,
        LEAD_OPTED_OUT,
        RECIPIENT_OPTED_OUT,
        SEND_WHATSAPP_MESSAGE,
        UNDELIVERABLE,
        SendWhatsAppInput,
        SendWhatsAppResult,
    )
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
        RESERVE_DAILY_SEND,
        SET_LEAD_STATUS,
        TASK_NOT_OPEN,
        CreatedTask,
        DailySendDecision,
        DailySendReservation,
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
        SequenceWorkflowInput,
        StepRecord,
        TaskAction,
        TaskToClose,
        TaskToCreate,
        stage_exit_reason,
    )

HISTORY_KEPT = 200  # step records the view keeps (the DB keeps them all)


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


def _opt_out_status_key(error: ApplicationError) -> str:
    """The tenant's opted-out status key the send activity looked up (details[0]), else the default key."""
    try:
        details = error.details[0] if error.details else None
    except Exception:  # undecodable details: the default key
        details = None
    key = details.get("opt_out_status_key") if isinstance(details, dict) else None
    return key if isinstance(key, str) and key else Stage.OPTED_OUT.value


# Runs recorded before a past-due contacting step was re-planned into business hours sent it at once: they replay
# without the marker and keep doing so; new runs record it. (The re-plan ran unguarded on main for under an hour,
# ecd6879..1b72922, never deployed: runs started in that window would not replay.)
REPLAN_PAST_DUE_PATCH = "replan-past-due-outside-hours"

# Runs recorded before a pause only held the schedule re-planned a step whose fire time passed during a pause from
# the resume, so a wait paused before it began started over in full: they replay without the marker and keep doing
# so; new runs record it and keep the step's planned times.
PAUSE_HOLDS_SCHEDULE_PATCH = "pause-holds-schedule"


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
        self._task_outcome: str | None = None  # completed | skipped, set by the task updates
        self._task_closing = False
        self._own_status_key: str | None = None  # a set_status step is moving the lead there: not an exit signal
        self._resumed_at: datetime | None = None
        self._due_at = self._view.next_action_at  # when the enrollment acts next; the view hides it while paused
        self._mirror_lock = asyncio.Lock()

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
            if self._should_continue_as_new():
                if announced is not None:
                    await announced
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    data.model_copy(update={"carried_over": self._view, "resume_index": index, "ready_at": ready_at})
                )
            position = await self._run_step(index, ready_at)
            if position is None:
                break
            index, ready_at = position
        if not self._view.status.ended:
            self._end(EnrollmentStatus.COMPLETED, None, None)
        await self._close_open_task("cancelled")
        await self._mirror()
        if announced is not None:
            await announced  # "ended" must not overtake "started"
        await self._tell_lead(ENROLLMENT_ENDED_SIGNAL)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    async def _run_step(self, index: int, ready_at: datetime) -> tuple[int | None, datetime] | None:
        """Plan, wait for and run step `index`; the next step's index and ready time, or None when the run ended."""
        step = self._definition.steps[index]
        number = self._view.steps_run + 1
        cap = self._definition.settings.daily_cap.whatsapp
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
            await self._mirror()
            reached = await self._hold(plan.fire_at)
            if reached == "ended":
                return None
            if reached == "late":
                if not workflow.patched(PAUSE_HOLDS_SCHEDULE_PATCH):
                    ready_at = workflow.now()
                    continue
                # A pause holds the schedule, it does not move it: the step acts now on its planned times (a wait
                # ends when it would have ended), like a step that was paused after it began.
                late = True
            if reached in ("due", "late") and self._outside_hours(step) and workflow.patched(REPLAN_PAST_DUE_PATCH):
                # The plan is past (a pause, a backlog of starts, a start_at in the past) and now is outside the
                # lead's hours: plan again from now, so business hours still apply.
                ready_at = workflow.now()
                continue
            if isinstance(step, SendWhatsAppStep) and cap is not None:
                # The send counts on the tenant day it goes out (now), not the day it was planned for: a step planned
                # in the past (a backlog, a start_at days ago) must not take an earlier day's unused slots.
                decision = await self._reserve_send(step, index, number, workflow.now(), cap)
                if not decision.granted and decision.defer_until is not None:
                    deferrals += 1
                    await self._record(step, index, number, plan.fire_at, "deferred", decision.reason, times=deferrals)
                    ready_at = decision.defer_until
                    continue
            break
        position = await self._act(step, index, number, plan)
        if late and position is not None and self._resumed_at is not None and position[1] < self._resumed_at:
            # The step's own hold ended during the pause too: the next step is ready at the resume, as after a
            # pause in the middle of a hold, so the steps after it never catch up in a burst.
            return position[0], workflow.now()
        return position

    async def _act(self, step: StepBase, index: int, number: int, plan: StepPlan) -> tuple[int | None, datetime] | None:
        """Run planned step `index` (execution `number`); the next step's index and ready time, or None when ended."""
        self._change(steps_run=number)
        if isinstance(step, SendWhatsAppStep):
            result, detail = await self._send(step, number)
            await self._record(step, index, number, plan.fire_at, result, detail)
            return self._next(index, plan.release_at)
        if isinstance(step, WaitStep):
            self._change(next_action_at=plan.release_at)
            await self._record(step, index, number, plan.fire_at, "waiting", f"until {plan.release_at.isoformat()}")
            reached = await self._hold(plan.release_at)
            if reached == "ended":
                return None
            return self._next(index, workflow.now() if reached == "late" else plan.release_at)
        if isinstance(step, WaitForReplyStep):
            return await self._wait_for_reply(step, index, number, plan.fire_at, plan.release_at)
        if isinstance(step, TaskStep):
            return await self._task(step, index, number, plan.fire_at)
        if isinstance(step, SetStatusStep):
            result, detail = await self._set_status(step)
            await self._record(step, index, number, plan.fire_at, result, detail)
            return self._next(index, plan.release_at)
        await self._record(step, index, number, plan.fire_at, "skipped", "this worker does not know the step type")
        return self._next(index, plan.release_at)

    def _next(self, index: int, ready_at: datetime, *, replied: bool = False) -> tuple[int | None, datetime] | None:
        if self._view.status.ended:
            return None
        following = next_index(self._definition, index, replied=replied, status_stages=self._input.status_stages)
        return following, ready_at

    # Steps -----------------------------------------------------------------------------------------------------------

    async def _send(self, step: SendWhatsAppStep, number: int) -> tuple[str, str | None]:
        message = render_message(step, self._input.lead_fields)
        template = message.template or message.fallback_template
        data = SendWhatsAppInput(
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
        )
        try:
            sent = await workflow.execute_activity(
                SEND_WHATSAPP_MESSAGE,
                data,
                result_type=SendWhatsAppResult,
                start_to_close_timeout=WHATSAPP_SEND_START_TO_CLOSE,
                schedule_to_close_timeout=SEQUENCE_SEND_SCHEDULE_TO_CLOSE,
                retry_policy=WHATSAPP_SEND_RETRY,
                summary=f"send step {step.id}",
            )
        except ActivityError as err:
            cause = err.cause
            kind = cause.type if isinstance(cause, ApplicationError) else None
            reason = cause.message if isinstance(cause, FailureError) else str(cause)
            if kind == RECIPIENT_OPTED_OUT and isinstance(cause, ApplicationError):
                # WhatsApp says the person stopped our messages: the lead opts out too (its other enrollments end).
                self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, reason)
                await self._move_lead(_opt_out_status_key(cause), reason)
            elif kind == LEAD_OPTED_OUT:
                self._end(EnrollmentStatus.EXITED, EXIT_OPTED_OUT, reason)
            elif kind == UNDELIVERABLE:
                self._end(EnrollmentStatus.EXITED, EXIT_UNDELIVERABLE, reason)
            elif kind == LEAD_GONE_SEND:
                self._end(EnrollmentStatus.EXITED, EXIT_LEAD_DELETED, reason)
            return "failed", f"{kind or 'error'}: {reason}"
        return "sent", f"{sent.mode} {sent.provider_message_id}"

    async def _wait_for_reply(
        self, step: WaitForReplyStep, index: int, number: int, fired_at: datetime, until: datetime
    ) -> tuple[int | None, datetime] | None:
        self._reply = None
        self._holding_for_reply = True
        self._change(next_action_at=until)
        await self._mirror()
        try:
            reached = await self._hold(until, done=lambda: self._reply is not None)
        finally:
            self._holding_for_reply = False
        if reached == "ended":
            return None
        if reached == "done":
            await self._record(step, index, number, fired_at, "replied", None)
            following = self._next(index, workflow.now(), replied=True)
            if following is not None and following[0] is None and step.on_reply == "exit":
                self._end(EnrollmentStatus.EXITED, EXIT_REPLIED, "the lead replied")
            return following
        await self._record(step, index, number, fired_at, "no_reply", None)
        following = self._next(index, workflow.now() if reached == "late" else until)
        if following is not None and following[0] is None and step.on_timeout == "exit":
            self._end(EnrollmentStatus.EXITED, EXIT_NO_REPLY, f"no reply within {step.timeout.describe()}")
        return following

    async def _task(
        self, step: TaskStep, index: int, number: int, fired_at: datetime
    ) -> tuple[int | None, datetime] | None:
        due_at = add_duration(fired_at, step.due_in, zone(self._input.lead_timezone))
        info = workflow.info()
        created = await workflow.execute_activity(
            CREATE_TASK,
            TaskToCreate(
                tenant_id=self._input.tenant_id,
                lead_id=self._input.lead_id,
                enrollment_id=self._input.enrollment_id,
                step_id=step.id or "",
                key=f"{info.workflow_id}:task:{step.id}:{number}",
                title=render(step.title, self._input.lead_fields).text,
                description=render(step.description, self._input.lead_fields).text if step.description else None,
                due_at=due_at,
                assignee=step.assignee,
                created_at=workflow.now(),
                blocks_enrollment=step.wait_for_completion,
            ),
            result_type=CreatedTask,
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if not step.wait_for_completion:
            await self._record(step, index, number, fired_at, "task_created", str(created.task_id))
            return self._next(index, fired_at)
        self._task_outcome = None
        self._task_closing = False
        # Waiting on a person: nothing is due on the enrollment's side (the task carries its own due time).
        self._change(open_task_id=created.task_id, next_action_at=None)
        await self._record(step, index, number, fired_at, "task_created", str(created.task_id))
        reached = await self._hold(due_at, done=lambda: self._task_outcome is not None)
        if reached in ("due", "late"):
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
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            await self._record(step, index, number, fired_at, "task_overdue", str(created.task_id))
            self._change(next_action_at=None)
            await self._mirror()
            reached = await self._hold(None, done=lambda: self._task_outcome is not None)
        if reached == "ended":
            return None
        await self._record(step, index, number, fired_at, f"task_{self._task_outcome}", str(created.task_id))
        return self._next(index, workflow.now())

    async def _set_status(self, step: SetStatusStep) -> tuple[str, str | None]:
        return await self._move_lead(step.status, f"step {step.id} of the sequence")

    async def _move_lead(self, status_key: str, reason: str) -> tuple[str, str | None]:
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
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                schedule_to_close_timeout=SEQUENCE_SET_STATUS_SCHEDULE_TO_CLOSE,
                retry_policy=DB_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            return "failed", cause.message if isinstance(cause, FailureError) else str(cause)
        finally:
            self._own_status_key = None
        return ("status_set" if result.applied else "failed"), result.detail

    # Waiting ---------------------------------------------------------------------------------------------------------

    def _outside_hours(self, step: StepBase) -> bool:
        """A step that contacts the lead, now outside the lead's business hours."""
        hours = self._definition.settings.business_hours
        return step.contacts_lead and not in_business_hours(workflow.now(), zone(self._input.lead_timezone), hours)

    async def _hold(self, deadline: datetime | None, done: Callable[[], bool] = lambda: False) -> str:
        """Wait until `deadline` (None: no deadline) or `done()`, interrupted at once by an end; paused time holds.

        "ended" | "done" | "due" (the deadline came) | "late" (the deadline passed while paused).
        """
        while True:
            if self._view.status.ended:
                return "ended"
            if done():
                return "done"
            if self._view.status == EnrollmentStatus.PAUSED:
                await workflow.wait_condition(lambda: self._view.status != EnrollmentStatus.PAUSED)
                if deadline is not None and workflow.now() > deadline and not self._view.status.ended and not done():
                    return "late"
                continue
            if deadline is None:
                await workflow.wait_condition(lambda: self._view.status != EnrollmentStatus.ACTIVE or done())
                continue
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return "due"
            try:
                await workflow.wait_condition(
                    lambda: self._view.status != EnrollmentStatus.ACTIVE or done(),
                    timeout=remaining,
                    timeout_summary=f"step {self._view.current_step_id}",
                )
            except TimeoutError:
                continue  # the top of the loop tells an end or an event that came with the deadline from "due"

    # Signals from the LeadWorkflow -----------------------------------------------------------------------------------

    @workflow.signal(name=LEAD_REPLIED_SIGNAL)
    def lead_replied(self, reply: LeadReplied) -> None:
        if self._view.status.ended:
            return
        self._change(replies=self._view.replies + 1)
        if self._holding_for_reply:
            self._reply = reply
        elif self._definition.settings.exit_on_reply:
            self._end(EnrollmentStatus.EXITED, EXIT_REPLIED, "the lead replied")

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
        detail = f"stopped by {control.actor}" + (f": {control.reason}" if control.reason else "")
        self._end(EnrollmentStatus.STOPPED, EXIT_STOPPED, detail)
        await self._mirror()
        return self._view

    @stop.validator
    def _validate_stop(self, control: EnrollmentControl) -> None:
        if self._view.status.ended:
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
        return await self._act_on_task(action, "completed")

    @complete_task.validator
    def _validate_complete_task(self, action: TaskAction) -> None:
        self._require_open_task(action)

    @workflow.update
    async def skip_task(self, action: TaskAction) -> EnrollmentView:
        return await self._act_on_task(action, "skipped")

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

    async def _act_on_task(self, action: TaskAction, outcome: str) -> EnrollmentView:
        self._require_open_task(action)  # again: a concurrent update may have taken it since validation
        self._task_closing = True
        await self._close_task_row(action.task_id, outcome, action.actor, action.note)
        self._task_outcome = outcome
        self._change(open_task_id=None)
        return self._view

    async def _close_open_task(self, outcome: str) -> None:
        task_id = self._view.open_task_id
        if task_id is None or self._task_closing:
            return
        self._task_closing = True
        await self._close_task_row(task_id, outcome, "system", f"the enrollment ended ({self._view.status.value})")
        self._change(open_task_id=None)

    async def _close_task_row(self, task_id: uuid.UUID, outcome: str, actor: str, note: str | None) -> None:
        await workflow.execute_activity(
            CLOSE_TASK,
            TaskToClose(
                tenant_id=self._input.tenant_id,
                task_id=task_id,
                status=outcome,
                actor=actor,
                note=note,
                at=workflow.now(),
            ),
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
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
        self,
        step: StepBase,
        index: int,
        number: int,
        planned_at: datetime,
        result: str,
        detail: str | None,
        *,
        times: int = 1,
    ) -> None:
        """Add a step record to the view and write it (with the view) to the DB."""
        record = StepRecord(
            number=number,
            index=index,
            step_id=step.id or "",
            type=_type_of(step),
            planned_at=planned_at,
            fired_at=workflow.now(),
            result=result,
            detail=detail,
            times=times,
        )
        self._change(history=(*self._view.history[-(HISTORY_KEPT - 1) :], record))
        await self._mirror(record)

    async def _mirror(self, step: StepRecord | None = None) -> None:
        async with self._mirror_lock:
            await workflow.execute_activity(
                MIRROR_ENROLLMENT,
                EnrollmentMirror(view=self._view, step=step),
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )

    async def _reserve_send(
        self, step: SendWhatsAppStep, index: int, number: int, at: datetime, cap: int
    ) -> DailySendDecision:
        return await workflow.execute_activity(
            RESERVE_DAILY_SEND,
            DailySendReservation(
                tenant_id=self._input.tenant_id,
                enrollment_id=self._input.enrollment_id,
                sequence_id=self._input.sequence_id,
                number=number,
                step_index=index,
                step_id=step.id or "",
                at=at,
                cap=cap,
                tenant_timezone=self._input.tenant_timezone,
                lead_timezone=self._input.lead_timezone,
                definition=self._definition,
            ),
            result_type=DailySendDecision,
            start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
            retry_policy=DB_RETRY,
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

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        too_long = info.get_current_history_length() >= self._input.max_history_events
        return too_long or info.is_continue_as_new_suggested()

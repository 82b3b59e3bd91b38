"""LeadWorkflow: the long-lived entity workflow of one lead.

Contract
- Id `lead:{tenant_slug}:{lead_id}` (workflows/ids.py); one per lead: the API starts it with the USE_EXISTING conflict
  policy after the lead row commits. Search attributes TenantId, LeadId, LeadStatus (status key), AssignedAgent
  (owner user id, "" when unassigned); memo `display_name`.
- Input `LeadWorkflowInput` (workflows/lead_types.py): the lead as committed, the tenant's speed-to-lead minutes and
  the history length that triggers continue-as-new.
- Update `change_status(StatusChangeRequest) -> LeadView`: the validator refuses a transition domain/stages.py
  forbids (ApplicationError type InvalidTransition), so a refused change never enters history. An accepted change is
  written to the lead row and the timeline by one idempotent activity, then to the LeadStatus search attribute, and
  answered with the new view. Changes apply one at a time in arrival order; re-sending the current status is a no-op.
- Signal `refresh_details(LeadDetailsChange)`: the CRM renamed or reassigned the lead; memo and AssignedAgent follow.
- Query `view() -> LeadView`.
- Speed-to-lead: while the lead stays in stage `new` past `lead_created_at + speed_to_lead_minutes`, one
  `speed_to_lead_alert` timeline event is recorded for the owner (at most once per lead, whatever the retries).
- Ends when the lead reaches a terminal stage (won, lost, opted_out) or its row is found deleted, returning the view.
  Continues-as-new (carrying the view) when the server suggests it or the history reaches `max_history_events`,
  always after in-flight handlers finish. A status change sent to a closed workflow starts a fresh run (the API uses
  update-with-start), which is how a person reopens a won or lost lead.

New message handlers (inbound messages, sequence enrolment) change `self._view` and let `run` react: `run` only
waits on conditions over the view, so adding a handler never touches the main loop.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from core.queues import (
    DB_ACTIVITY_TIMEOUT,
    DB_RETRY,
    LEAD_STATUS_MIRROR_SCHEDULE_TO_CLOSE,
)
from domain.stages import TERMINAL_STAGES, Stage, transition_error
from workflows import search_attributes
from workflows.lead_types import (
    INVALID_TRANSITION,
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

MIRROR_FAILED = "StatusMirrorFailed"


def initial_view(data: LeadWorkflowInput) -> LeadView:
    """The view a run starts from: the previous run's on continue-as-new, otherwise the lead as the API sent it."""
    if data.carried_over is not None:
        return data.carried_over
    watch = data.speed_to_lead_minutes > 0 and data.stage == Stage.NEW
    return LeadView(
        tenant_id=data.tenant_id,
        tenant_slug=data.tenant_slug,
        lead_id=data.lead_id,
        display_name=data.display_name,
        owner_id=data.owner_id,
        status_key=data.status_key,
        stage=data.stage,
        speed_to_lead_due_at=(data.lead_created_at + timedelta(minutes=data.speed_to_lead_minutes) if watch else None),
    )


@workflow.defn
class LeadWorkflow:
    @workflow.init
    def __init__(self, data: LeadWorkflowInput) -> None:
        self._input = data
        self._view = initial_view(data)
        # Status changes wait their turn: each one validates against, and mirrors after, the one before it.
        self._status_lock = asyncio.Lock()

    @workflow.run
    async def run(self, data: LeadWorkflowInput) -> LeadView:
        while True:
            await self._watch_speed_to_lead()
            await workflow.wait_condition(self._run_should_end)
            # An update accepted now would be lost by ending the run; let every handler answer first.
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._finished():
                return self._view
            if self._should_continue_as_new():
                workflow.continue_as_new(data.model_copy(update={"carried_over": self._view}))
            # Otherwise a handler reopened the lead while we waited (a lost lead back to contacted): keep going.

    # Status changes --------------------------------------------------------------------------------------------------

    @workflow.update
    async def change_status(self, request: StatusChangeRequest) -> LeadView:
        async with self._status_lock:
            before = self._view
            if request.status_key == before.status_key and request.stage == before.stage:
                return before
            # Checked again: an earlier change may have landed while this one waited for the lock.
            self._raise_if_refused(request)
            now = workflow.now()
            mirror = StatusChangeMirror(
                tenant_id=before.tenant_id,
                lead_id=before.lead_id,
                from_status_key=before.status_key,
                from_stage=before.stage,
                to_status_key=request.status_key,
                to_stage=request.stage,
                actor=request.actor,
                reason=request.reason,
                occurred_at=now,
                idempotency_key=self._change_key(before.status_changes + 1),
            )
            try:
                await workflow.execute_activity(
                    MIRROR_STATUS_CHANGE,
                    mirror,
                    start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                    # Bounded: a person is waiting for the answer; an unsaved change is refused, never half-applied.
                    schedule_to_close_timeout=LEAD_STATUS_MIRROR_SCHEDULE_TO_CLOSE,
                    retry_policy=DB_RETRY,
                )
            except ActivityError as err:
                raise self._mirror_failure(err) from err
            self._view = self._view.model_copy(
                update={
                    "status_key": request.status_key,
                    "stage": request.stage,
                    "status_changes": before.status_changes + 1,
                    "status_changed_at": now,
                }
            )
            workflow.upsert_search_attributes([search_attributes.LEAD_STATUS.value_set(request.status_key)])
            return self._view

    @change_status.validator
    def _validate_change_status(self, request: StatusChangeRequest) -> None:
        if request.status_key == self._view.status_key and request.stage == self._view.stage:
            return
        self._raise_if_refused(request)

    @staticmethod
    def _change_key(number: int) -> str:
        # The run id tells a reopened lead's fresh run (whose count starts again) from the run before it.
        info = workflow.info()
        return f"{info.workflow_id}:{info.run_id}:status:{number}"

    def _raise_if_refused(self, request: StatusChangeRequest) -> None:
        if self._view.lead_gone:
            raise ApplicationError("the lead no longer exists", type=LEAD_GONE, non_retryable=True)
        reason = transition_error(self._view.stage, request.stage)
        if reason is not None:
            raise ApplicationError(reason, type=INVALID_TRANSITION, non_retryable=True)

    def _mirror_failure(self, err: ActivityError) -> ApplicationError:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == LEAD_GONE:
            self._view = self._view.model_copy(update={"lead_gone": True})
            return ApplicationError("the lead no longer exists", type=LEAD_GONE, non_retryable=True)
        return ApplicationError(
            "the status change could not be saved, so it was not applied; try again",
            type=MIRROR_FAILED,
            non_retryable=True,
        )

    # CRM details -----------------------------------------------------------------------------------------------------

    @workflow.signal
    def refresh_details(self, change: LeadDetailsChange) -> None:
        self._view = self._view.model_copy(update={"display_name": change.display_name, "owner_id": change.owner_id})
        workflow.upsert_memo({"display_name": change.display_name})
        workflow.upsert_search_attributes(
            [search_attributes.ASSIGNED_AGENT.value_set(str(change.owner_id) if change.owner_id else "")]
        )

    @workflow.query
    def view(self) -> LeadView:
        return self._view

    # Speed-to-lead ---------------------------------------------------------------------------------------------------

    async def _watch_speed_to_lead(self) -> None:
        """Wait until the lead leaves `new` or its SLA passes; in the latter case record the alert, once."""
        if not self._speed_to_lead_pending():
            return
        due_at = self._view.speed_to_lead_due_at
        assert due_at is not None
        remaining = (due_at - workflow.now()).total_seconds()
        if remaining > 0:
            try:
                await workflow.wait_condition(
                    lambda: not self._speed_to_lead_pending() or self._run_should_end(),
                    timeout=remaining,
                    timeout_summary="speed-to-lead",
                )
                return
            except TimeoutError:
                pass
        if not self._speed_to_lead_pending():
            return
        view = self._view
        try:
            result = await workflow.execute_activity(
                RECORD_SPEED_TO_LEAD_ALERT,
                SpeedToLeadAlert(
                    tenant_id=view.tenant_id,
                    lead_id=view.lead_id,
                    minutes=self._input.speed_to_lead_minutes,
                    status_key=view.status_key,
                    due_at=due_at,
                    idempotency_key=f"lead:{view.lead_id}:speed_to_lead_alert",
                ),
                result_type=SpeedToLeadAlertResult,
                start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == LEAD_GONE:
                self._view = self._view.model_copy(update={"lead_gone": True})
                return
            # A permanent failure of one alert must not fail the lead's whole lifecycle: stop watching, say so.
            workflow.logger.warning("speed-to-lead alert for lead %s not recorded: %s", view.lead_id, err.cause)
            self._view = self._view.model_copy(update={"speed_to_lead_due_at": None})
            return
        workflow.logger.info("speed-to-lead alert for lead %s (owner %s)", view.lead_id, result.owner_id)
        self._view = self._view.model_copy(update={"speed_to_lead_alerted_at": workflow.now()})

    def _speed_to_lead_pending(self) -> bool:
        view = self._view
        return (
            view.speed_to_lead_due_at is not None
            and view.speed_to_lead_alerted_at is None
            and view.stage == Stage.NEW
            and not view.lead_gone
        )

    # Run lifecycle ---------------------------------------------------------------------------------------------------

    def _finished(self) -> bool:
        return self._view.stage in TERMINAL_STAGES or self._view.lead_gone

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        too_long = info.get_current_history_length() >= self._input.max_history_events
        return too_long or info.is_continue_as_new_suggested()

    def _run_should_end(self) -> bool:
        return self._finished() or self._should_continue_as_new()

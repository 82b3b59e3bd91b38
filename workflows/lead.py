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
- Signal `record_inbound_message(InboundWhatsAppMessage)` (domain/whatsapp_messages.py): the lead wrote on WhatsApp;
  the view keeps `last_inbound_at`; a repeated signal (same provider message id) is ignored; an opt-out keyword moves
  the lead to the tenant's opted-out status through the same path as `change_status` (actor `whatsapp`).
- Signal `record_inbound_messages(InboundWhatsAppMessages)`: several such messages stored together (the dispatcher
  handled a burst of the lead's as one run): taken in order as that many `record_inbound_message`s, the enrollments
  told once per stretch of replies (`LeadReplied.messages` says how many) and one AI turn for the burst.
- Signal `record_provider_opt_out(WhatsAppProviderOptOut)`: a status webhook reported 131050; the lead is opted out.
- Signal `record_provider_undeliverable(WhatsAppProviderUndeliverable)`: a status webhook reported that a message the
  provider had accepted cannot be delivered (131026); the lead's enrollments end as undeliverable.
- Update `send_whatsapp_message(ManualWhatsAppMessage) -> SendWhatsAppResult`: an agent's message, sent by the
  `send_whatsapp_message` activity with the idempotency key `<workflow id>:manual:<request id>`. The validator refuses
  an opted-out lead; a refusal comes back as ApplicationError with the activity's type; a provider opt-out (131050)
  also opts the lead out.
- Signals `enrollment_started` / `enrollment_ended(EnrollmentLink)` (workflows/sequence_types.py): a
  SequenceWorkflow of this lead started or ended; the view keeps the running ones (`active_enrollments`, carried
  over continue-as-new). Each is told, by signal, of an inbound message (`lead_replied`), an accepted status change
  (`lead_stage_changed`) and an opt-out keyword (`lead_opted_out`); one that has ended meanwhile is forgotten.
- AI agent (patch `ai-agent`): each inbound message that is not an opt-out, while the conversation's handler is not
  `human`, starts an AI turn: plan (local activity: is the agent on, its debounce, its answering hours), wait the
  debounce (a newer message supersedes the turn: only the latest turn of a burst goes on; it counts from the
  webhook's acknowledgement, and its last second is waited by the turn activity, patch `ai-turn-does-more`, which
  then answers nothing if a newer message was stored meanwhile), run the turn activity
  (model + tools), then act on its decision if no newer message came meanwhile (a stale result is dropped): a reply
  goes out through the WhatsApp outbox (step `ai:<run>:<turn>`; window, opt-out and pacing hold; an auto reply is
  sent by the turn activity itself, same patch, after it checked that the lead did not write again and
  no person took over, else by a send activity of the workflow's) or waits as a draft
  (`draft` mode, or the facts guardrail held it) until the update `decide_ai_draft(DraftDecision)` approves (maybe
  edited) or rejects it, a newer message withdraws it, or the tenant's draft timeout turns it into a task; a handoff
  makes the handler `human`. An agent's manual message makes the handler `human`; the update
  `set_conversation_handler(HandlerRequest)` hands it back (`ai`) or takes it over.
- Signal `record_call(CallLink)` (workflows/call_types.py): one of the lead's calls started; the view keeps the
  workflow ids of the latest ones (`recent_calls`).
- Signal `record_call_outcome(LeadCallOutcome)`: a call's disposition (automatic at its end, or an agent's). A
  conversation (connected, interested, ...) is told to the running enrollments as `lead_replied`; a do-not-call as
  `lead_opted_out`, a wrong number as `lead_undeliverable` (the enrollment that placed the call is not told: its
  step follows the outcome). The lead then moves forward to the outcome's stage through `change_status` (a call
  never moves it back). A repeated outcome (same call, same disposition) is ignored.
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
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from core.queues import AI_PLAN, AI_REPLY_SEND, AI_TURN, DB_WRITE, LEAD_STATUS_MIRROR, MANUAL_SEND, ActivityOptions
from domain.ai_agent import AgentMode, ConversationHandler
from domain.stages import TERMINAL_STAGES, Stage, transition_error
from domain.whatsapp_messages import (
    CONVERSATION_MOVED_ON,
    LEAD_OPTED_OUT,
    RECIPIENT_OPTED_OUT,
    SEND_WHATSAPP_MESSAGE,
    InboundWhatsAppMessage,
    InboundWhatsAppMessages,
    ManualWhatsAppMessage,
    SendWhatsAppInput,
    SendWhatsAppResult,
    WhatsAppProviderOptOut,
    WhatsAppProviderUndeliverable,
    manual_send_step,
)
from workflows import search_attributes
from workflows.ai_drafts import settle_ai_draft
from workflows.ai_types import (
    AI_ACTOR,
    AI_AGENT_PATCH,
    AI_TURN_DOES_MORE_PATCH,
    DEBOUNCE_END_IN_TURN_SECONDS,
    PLAN_AI_TURN,
    RUN_AI_TURN,
    SAVE_AI_DRAFT,
    AiDecisionKind,
    AiDraftInput,
    AiDraftRef,
    AiTurnInput,
    AiTurnPlan,
    AiTurnPlanRequest,
    AiTurnResult,
    DraftDecision,
    DraftOutcome,
    HandlerRequest,
    PendingDraft,
    ai_reply_actor,
    ai_reply_send,
)
from workflows.call_types import CallLink
from workflows.failures import WorkflowFailure
from workflows.lead_types import (
    INVALID_TRANSITION,
    LEAD_GONE,
    MIRROR_STATUS_CHANGE,
    RECENT_CALLS_KEPT,
    RECORD_CALL_OUTCOME_SIGNAL,
    RECORD_CALL_SIGNAL,
    RECORD_SPEED_TO_LEAD_ALERT,
    LeadCallOutcome,
    LeadDetailsChange,
    LeadView,
    LeadWorkflowInput,
    SpeedToLeadAlert,
    SpeedToLeadAlertResult,
    StatusChangeMirror,
    StatusChangeRequest,
)
from workflows.sequence_types import (
    ENROLLMENT_ENDED_SIGNAL,
    ENROLLMENT_STARTED_SIGNAL,
    LEAD_OPTED_OUT_SIGNAL,
    LEAD_REPLIED_SIGNAL,
    LEAD_STAGE_CHANGED_SIGNAL,
    LEAD_UNDELIVERABLE_SIGNAL,
    EnrollmentLink,
    LeadOptedOut,
    LeadReplied,
    LeadStageChanged,
    LeadUndeliverable,
)
from workflows.shared import opt_out_status_key, run_local_activity, should_continue_as_new

MIRROR_FAILED = "StatusMirrorFailed"
RECENT_INBOUND_IDS = 20  # how many inbound message ids the view remembers to drop a repeated signal


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
        active_enrollments=data.active_enrollments,
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
            if should_continue_as_new(self._input.max_history_events):
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
                    # Bounded: a person is waiting for the answer; an unsaved change is refused, never half-applied.
                    **LEAD_STATUS_MIRROR,
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
            await self._tell_enrollments(
                LEAD_STAGE_CHANGED_SIGNAL,
                LeadStageChanged(status_key=request.status_key, stage=request.stage, actor=request.actor),
            )
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

    # WhatsApp --------------------------------------------------------------------------------------------------------

    @workflow.signal(name=InboundWhatsAppMessage.signal)
    async def record_inbound_message(self, message: InboundWhatsAppMessage) -> None:
        """The lead wrote on WhatsApp (the webhook stored it). A repeat is ignored; an opt-out keyword opts out."""
        await self._take_inbound([message], message.opt_out_status_key)

    @workflow.signal(name=InboundWhatsAppMessages.signal)
    async def record_inbound_messages(self, batch: InboundWhatsAppMessages) -> None:
        """Several messages of the lead stored together: as many `record_inbound_message`s, with the enrollments told
        once per stretch of replies and one AI turn for the burst (only a burst's latest turn acts anyway)."""
        await self._take_inbound(batch.messages, batch.opt_out_status_key)

    async def _take_inbound(self, messages: list[InboundWhatsAppMessage], status_key: str | None) -> None:
        replies: list[InboundWhatsAppMessage] = []
        for message in messages:
            if not self._note_inbound(message):
                continue
            if not message.opt_out:
                replies.append(message)
                continue
            await self._tell_replied(replies)
            replies = []
            await self._tell_enrollments(LEAD_OPTED_OUT_SIGNAL, LeadOptedOut(reason="opt-out keyword on WhatsApp"))
            await self._opt_out(
                message.opt_out_status_key or status_key or Stage.OPTED_OUT.value,
                f"the lead wrote {message.body[:40]!r} on WhatsApp (an opt-out keyword)",
            )
        if replies:
            await self._tell_replied(replies)
            if workflow.patched(AI_AGENT_PATCH):
                await self._answer_with_ai(replies[-1])

    def _note_inbound(self, message: InboundWhatsAppMessage) -> bool:
        """Count the message in the view; False for a repeat (its id is among the latest ones)."""
        view = self._view
        if message.provider_message_id in view.recent_inbound_ids:
            return False
        last = message.received_at if view.last_inbound_at is None else max(view.last_inbound_at, message.received_at)
        self._view = view.model_copy(
            update={
                "last_inbound_at": last,
                "inbound_messages": view.inbound_messages + 1,
                "recent_inbound_ids": (
                    *view.recent_inbound_ids[-(RECENT_INBOUND_IDS - 1) :],
                    message.provider_message_id,
                ),
            }
        )
        return True

    async def _tell_replied(self, replies: list[InboundWhatsAppMessage]) -> None:
        if not replies:
            return
        latest = max(replies, key=lambda m: m.received_at)
        reply = LeadReplied(
            received_at=latest.received_at, provider_message_id=latest.provider_message_id, messages=len(replies)
        )
        await self._tell_enrollments(LEAD_REPLIED_SIGNAL, reply)

    @workflow.signal(name=WhatsAppProviderOptOut.signal)
    async def record_provider_opt_out(self, event: WhatsAppProviderOptOut) -> None:
        """WhatsApp reported (a `failed` status, 131050) that the person stopped messages from this business."""
        await self._opt_out(
            event.opt_out_status_key or Stage.OPTED_OUT.value,
            f"WhatsApp reports the person stopped messages from this business ({event.reason or '131050'})",
        )

    @workflow.signal(name=WhatsAppProviderUndeliverable.signal)
    async def record_provider_undeliverable(self, event: WhatsAppProviderUndeliverable) -> None:
        """A message WhatsApp had accepted could not be delivered: the number cannot receive WhatsApp messages, so no
        enrollment of this lead goes on sending (as when the send itself is refused with 131026)."""
        reason = f"WhatsApp could not deliver to the lead's number ({event.reason or 'undeliverable'})"
        await self._tell_enrollments(LEAD_UNDELIVERABLE_SIGNAL, LeadUndeliverable(reason=reason))

    @workflow.update
    async def send_whatsapp_message(self, request: ManualWhatsAppMessage) -> SendWhatsAppResult:
        """An agent's message, sent by the same activity (outbox, window, pacing) as every other WhatsApp send.

        A person writing takes the conversation over: the AI stays silent until it is handed back."""
        self._take_over_from_ai()
        view = self._view
        data = SendWhatsAppInput(
            tenant_id=str(view.tenant_id),
            lead_id=str(view.lead_id),
            workflow_id=workflow.info().workflow_id,
            step=manual_send_step(request.request_id),
            text=request.text,
            template=request.template,
            template_language=request.template_language,
            template_parameters=request.template_parameters,
            requested_by=request.actor,
        )
        return await self._send(data, MANUAL_SEND)

    async def _send(self, data: SendWhatsAppInput, options: ActivityOptions) -> SendWhatsAppResult:
        """One WhatsApp send through the outbox activity; a refusal comes back as ApplicationError with the
        activity's type, and a provider opt-out (131050) also opts the lead out."""
        try:
            return await workflow.execute_activity(
                SEND_WHATSAPP_MESSAGE,
                data,
                result_type=SendWhatsAppResult,
                **options,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == RECIPIENT_OPTED_OUT:
                await self._opt_out(opt_out_status_key(cause), cause.message)
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from err
            raise ApplicationError(f"the message was not sent: {cause}", non_retryable=True) from err

    @send_whatsapp_message.validator
    def _validate_send_whatsapp_message(self, request: ManualWhatsAppMessage) -> None:
        if self._view.lead_gone:
            raise ApplicationError("the lead no longer exists", type=LEAD_GONE, non_retryable=True)
        if self._view.stage == Stage.OPTED_OUT:
            raise ApplicationError(
                "the lead has opted out of WhatsApp messages; nothing was sent", type=LEAD_OPTED_OUT, non_retryable=True
            )
        if not request.text and not request.template:
            raise ApplicationError("give a text or a template", type=WorkflowFailure.INVALID_INPUT, non_retryable=True)

    async def _opt_out(self, status_key: str, reason: str) -> None:
        """Move the lead to its tenant's opted-out status (once), recording why; later sends are refused."""
        if self._view.stage == Stage.OPTED_OUT:
            return
        try:
            # The same path as a person's status change: validated, mirrored to the row and the timeline, in turn.
            change = StatusChangeRequest(status_key=status_key, stage=Stage.OPTED_OUT, actor="whatsapp", reason=reason)
            await cast(Awaitable[LeadView], LeadWorkflow.change_status(self, change))
        except ApplicationError as err:
            workflow.logger.warning("opt-out of lead %s not applied: %s", self._view.lead_id, err.message)

    # AI agent --------------------------------------------------------------------------------------------------------

    def _ai_may_answer(self) -> bool:
        # Not `_finished()`: a turn whose own tool closed the lead (set_status lost) still sends its closing reply.
        view = self._view
        return view.conversation_handler != ConversationHandler.HUMAN and view.stage != Stage.OPTED_OUT

    def _take_over_from_ai(self) -> None:
        """A person answers from now on; a turn in flight or a waiting draft is superseded (and withdrawn)."""
        self._view = self._view.model_copy(
            update={"conversation_handler": ConversationHandler.HUMAN, "ai_turns": self._view.ai_turns + 1}
        )

    async def _answer_with_ai(self, latest: InboundWhatsAppMessage) -> None:
        """One turn per inbound message; only the latest of a burst survives its debounce and acts.

        The debounce counts from when Leadflow acknowledged the message (`accepted_at`), not from this task: the way
        to the workflow (inbox, dispatcher, this task, the plan) runs inside the debounce instead of after it. The rest
        is waited on a timer but for its last stretch, which the turn activity waits (DEBOUNCE_END_IN_TURN_SECONDS)."""
        if not self._ai_may_answer() or self._finished():
            return
        self._view = self._view.model_copy(update={"ai_turns": self._view.ai_turns + 1})
        turn = self._view.ai_turns

        def superseded() -> bool:
            return self._view.ai_turns != turn or not self._ai_may_answer()

        view = self._view
        # Asked before the plan, in the task that took the message: a patch first asked after a local activity can
        # land in a later workflow task than the code that asks it, and a replay would then not see it in time.
        turn_does_more = workflow.patched(AI_TURN_DOES_MORE_PATCH)
        try:
            plan = await run_local_activity(
                PLAN_AI_TURN,
                AiTurnPlanRequest(tenant_id=view.tenant_id, lead_id=view.lead_id),
                result_type=AiTurnPlan,
                **AI_PLAN,
            )
        except ActivityError as err:
            workflow.logger.warning("AI turn %s of lead %s not planned: %s", turn, view.lead_id, err.cause)
            return
        if plan.mode == AgentMode.OFF or superseded():
            return
        wait = plan.debounce_seconds
        accepted_at = latest.accepted_at
        if accepted_at is not None:
            # The plan's clock, recorded with its result, covers the plan too (workflow.now() stays at this task's
            # start); a plan made before the field, the task's start.
            on_the_way = ((plan.planned_at or workflow.now()) - accepted_at).total_seconds()
            wait -= min(max(on_the_way, 0.0), plan.debounce_seconds)
        if plan.opens_at is not None:
            wait = max(wait, (plan.opens_at - workflow.now()).total_seconds())
        not_before = None
        if (
            turn_does_more
            and wait > 0
            and plan.opens_at is None
            and plan.planned_at is not None
            and latest.message_id is not None
        ):
            not_before = plan.planned_at + timedelta(seconds=wait)
            last_stretch = DEBOUNCE_END_IN_TURN_SECONDS
            wait = wait - last_stretch if wait >= 2 * last_stretch else 0.0
        if wait > 0:
            try:
                await workflow.wait_condition(superseded, timeout=wait, timeout_summary="AI reply debounce")
                return  # a newer message (or a person) took over while we waited
            except TimeoutError:
                pass
        info = workflow.info()
        step = f"ai:{info.run_id}:{turn}"
        try:
            result = await workflow.execute_activity(
                RUN_AI_TURN,
                AiTurnInput(
                    tenant_id=view.tenant_id,
                    tenant_slug=view.tenant_slug,
                    lead_id=view.lead_id,
                    workflow_id=info.workflow_id,
                    turn_key=f"{info.workflow_id}:{info.run_id}:ai:{turn}",
                    active_enrollments=self._view.active_enrollments,
                    not_before=not_before,
                    answers_message_id=uuid.UUID(latest.message_id) if not_before else None,
                    send_step=step if turn_does_more else None,
                ),
                result_type=AiTurnResult,
                **AI_TURN,
            )
        except ActivityError as err:
            workflow.logger.warning("AI turn %s of lead %s failed: %s", turn, view.lead_id, err.cause)
            return
        if result.sent_message_id is not None:
            # Sent by the turn itself (it checked that the conversation had not moved on).
            self._view = self._view.model_copy(update={"ai_replies": self._view.ai_replies + 1})
            return
        if superseded():
            return  # stale: a newer message came while the model was thinking; that turn answers instead
        if result.kind == AiDecisionKind.HANDOFF:
            self._view = self._view.model_copy(update={"conversation_handler": ConversationHandler.HUMAN})
            return
        if result.kind != AiDecisionKind.REPLY or not result.text:
            return
        if result.needs_approval is None:
            try:
                await self._send_ai_reply(
                    step,
                    result.text,
                    actor=ai_reply_actor(result.settings_version),
                    conversation_read_at=result.conversation_read_at,
                )
            except ApplicationError as err:
                # Overtaken by a newer message (whose own turn answers) is the normal end of a stale reply.
                log = workflow.logger.info if err.type == CONVERSATION_MOVED_ON else workflow.logger.warning
                log("AI reply of turn %s to lead %s not sent: %s", turn, view.lead_id, err.message)
            return
        await self._hold_as_draft(turn, step, result, plan)

    async def _send_ai_reply(
        self, step: str, text: str, *, actor: str, conversation_read_at: datetime | None = None
    ) -> SendWhatsAppResult:
        view = self._view
        data = ai_reply_send(
            tenant_id=view.tenant_id,
            lead_id=view.lead_id,
            workflow_id=workflow.info().workflow_id,
            step=step,
            text=text,
            requested_by=actor,
            conversation_read_at=conversation_read_at,
        )
        sent = await self._send(data, AI_REPLY_SEND)
        self._view = self._view.model_copy(update={"ai_replies": self._view.ai_replies + 1})
        return sent

    async def _hold_as_draft(self, turn: int, step: str, result: AiTurnResult, plan: AiTurnPlan) -> None:
        view = self._view
        info = workflow.info()
        ref = await workflow.execute_activity(
            SAVE_AI_DRAFT,
            AiDraftInput(
                tenant_id=view.tenant_id,
                lead_id=view.lead_id,
                workflow_id=info.workflow_id,
                turn_key=f"{info.workflow_id}:{info.run_id}:ai:{turn}",
                text=result.text,
                reason=result.needs_approval or "draft_mode",
                settings_version=result.settings_version,
            ),
            result_type=AiDraftRef,
            **DB_WRITE,
        )
        draft = PendingDraft(draft_id=ref.draft_id, turn=turn, text=result.text, step=step)
        self._view = self._view.model_copy(update={"pending_draft": draft})

        def settled_or_superseded() -> bool:
            return self._view.pending_draft != draft or self._view.ai_turns != turn

        try:
            await workflow.wait_condition(
                settled_or_superseded, timeout=plan.draft_timeout_minutes * 60, timeout_summary="AI draft approval"
            )
        except TimeoutError:
            self._view = self._view.model_copy(update={"pending_draft": None})
            await settle_ai_draft(self._view, draft, "expired", actor=AI_ACTOR, reason="nobody approved it in time")
            return
        if self._view.pending_draft == draft:  # superseded: a newer message or a person's own message
            self._view = self._view.model_copy(update={"pending_draft": None})
            await settle_ai_draft(self._view, draft, "withdrawn", actor=AI_ACTOR, reason="the conversation moved on")

    @workflow.update
    async def decide_ai_draft(self, decision: DraftDecision) -> DraftOutcome:
        """A person approves (maybe edited) or rejects the waiting draft; an approved one goes out via the outbox."""
        draft = self._view.pending_draft
        assert draft is not None  # the validator checked it
        self._view = self._view.model_copy(update={"pending_draft": None})
        if not decision.approve:
            await settle_ai_draft(self._view, draft, "rejected", actor=decision.actor, reason=decision.reason)
            return DraftOutcome(draft_id=draft.draft_id, status="rejected")
        text = decision.text or draft.text
        try:
            sent = await self._send_ai_reply(draft.step, text, actor=decision.actor)
        except ApplicationError as err:
            await settle_ai_draft(self._view, draft, "failed", actor=decision.actor, reason=err.message)
            raise ApplicationError(
                f"the draft was not sent: {err.message}", type=WorkflowFailure.AI_DRAFT_NOT_SENT
            ) from err
        await settle_ai_draft(
            self._view, draft, "approved", actor=decision.actor, final_text=text, message_id=sent.message_id
        )
        return DraftOutcome(draft_id=draft.draft_id, status="approved", message_id=sent.message_id)

    @decide_ai_draft.validator
    def _validate_decide_ai_draft(self, decision: DraftDecision) -> None:
        draft = self._view.pending_draft
        if draft is None or draft.draft_id != decision.draft_id:
            raise ApplicationError(
                "this draft is no longer waiting: it was decided, withdrawn by a newer message, or expired",
                type=WorkflowFailure.AI_DRAFT_NOT_PENDING,
            )
        if decision.approve and self._view.stage == Stage.OPTED_OUT:
            raise ApplicationError("the lead has opted out; nothing is sent", type=LEAD_OPTED_OUT)

    @workflow.update
    def set_conversation_handler(self, request: HandlerRequest) -> LeadView:
        """Hand the conversation to the AI (`ai`) or take it over (`human`, which withdraws a waiting draft)."""
        if request.handler == ConversationHandler.HUMAN:
            self._take_over_from_ai()
        else:
            self._view = self._view.model_copy(update={"conversation_handler": request.handler})
        return self._view

    # Sequences -------------------------------------------------------------------------------------------------------

    # Calls -----------------------------------------------------------------------------------------------------------

    @workflow.signal(name=RECORD_CALL_SIGNAL)
    def record_call(self, link: CallLink) -> None:
        """A call of this lead started (outbound by its CallWorkflow, inbound by the voice webhook)."""
        if link.workflow_id not in self._view.recent_calls:
            recent = (*self._view.recent_calls, link.workflow_id)[-RECENT_CALLS_KEPT:]
            self._view = self._view.model_copy(update={"recent_calls": recent})

    @workflow.signal(name=RECORD_CALL_OUTCOME_SIGNAL)
    async def record_call_outcome(self, outcome: LeadCallOutcome) -> None:
        """A call's disposition tells the enrollments and moves the lead forward (see the module's contract)."""
        view = self._view
        if outcome.key in view.recent_call_outcomes:
            return
        self._view = view.model_copy(
            update={"recent_call_outcomes": (*view.recent_call_outcomes[-(RECENT_CALLS_KEPT - 1) :], outcome.key)}
        )
        reason = f"call disposition {outcome.disposition}"
        skip = outcome.enrollment_workflow_id
        if outcome.stop == "opted_out":
            await self._tell_enrollments(LEAD_OPTED_OUT_SIGNAL, LeadOptedOut(reason=reason), skip=skip)
        elif outcome.stop == "undeliverable":
            await self._tell_enrollments(LEAD_UNDELIVERABLE_SIGNAL, LeadUndeliverable(reason=reason), skip=skip)
        elif outcome.conversation:
            replied = LeadReplied(received_at=outcome.at, provider_message_id=f"call:{outcome.call_id}")
            await self._tell_enrollments(LEAD_REPLIED_SIGNAL, replied, skip=skip)
        stage = self._view.stage
        if outcome.stage is None or outcome.status_key is None or stage not in outcome.from_stages:
            return
        if transition_error(stage, outcome.stage) is not None or self._view.lead_gone:
            return
        change = StatusChangeRequest(
            status_key=outcome.status_key, stage=outcome.stage, actor=outcome.actor[:80], reason=reason
        )
        try:
            await cast(Awaitable[LeadView], LeadWorkflow.change_status(self, change))
        except ApplicationError as err:
            workflow.logger.warning("call outcome of lead %s not applied: %s", self._view.lead_id, err.message)

    @workflow.signal(name=ENROLLMENT_STARTED_SIGNAL)
    def enrollment_started(self, link: EnrollmentLink) -> None:
        if link.workflow_id not in self._view.active_enrollments:
            self._view = self._view.model_copy(
                update={"active_enrollments": (*self._view.active_enrollments, link.workflow_id)}
            )

    @workflow.signal(name=ENROLLMENT_ENDED_SIGNAL)
    def enrollment_ended(self, link: EnrollmentLink) -> None:
        self._forget_enrollment(link.workflow_id)

    def _forget_enrollment(self, workflow_id: str) -> None:
        remaining = tuple(w for w in self._view.active_enrollments if w != workflow_id)
        self._view = self._view.model_copy(update={"active_enrollments": remaining})

    async def _tell_enrollments(self, signal: str, payload: object, *, skip: str | None = None) -> None:
        """Signal every running enrollment of the lead (but `skip`); one that already ended is forgotten."""
        targets = tuple(w for w in self._view.active_enrollments if w != skip)
        if not targets:
            return

        async def tell(workflow_id: str) -> None:
            try:
                await workflow.get_external_workflow_handle(workflow_id).signal(signal, payload)
            except FailureError:
                self._forget_enrollment(workflow_id)

        await asyncio.gather(*(tell(w) for w in targets))

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
                **DB_WRITE,
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

    def _run_should_end(self) -> bool:
        return self._finished() or should_continue_as_new(self._input.max_history_events)

"""CallWorkflow: one call attempt, from its slot to its disposition.

Contract
- Id `call:{tenant_slug}:{lead_id}:{attempt}` (inbound: `call:{tenant_slug}:{lead_id}:in-{CallSid}`), search
  attributes TenantId, LeadId, CallStatus, CallDisposition. Input `CallWorkflowInput` (workflows/call_types.py); the
  `call` row exists before the workflow starts (the API's, or the one `call.prepare` writes for a retry).
- Outbound: `call.prepare` reads the tenant's policy; a call slot is leased (per tenant and overall, renewed while
  the call lives, released on every way out); `call.place` places the call effectively once (the attempt's token in
  every callback URL, see activities/calls.py); then the workflow follows the call. The short steps (an outbound
  call's prepare, the slot's request and release, the row's mirror, telling the lead, the missed-call task, the
  voice reply) are local activities, run in the workflow task that asks for them (patch `call-local-steps`; before
  it, activities; see `run` for what may follow one); the slot's renewal, an inbound call's prepare, placing and
  hanging up the call and its summary stay activities on the task queue.
- Signal `provider_event(ProviderEventEnvelope)`: Twilio's callbacks as the dispatcher stored them (status, async
  AMD, dial result, recording). Applied forward-only: a status never moves back, repeats change nothing.
- Update `caller_said(CallerUtterance) -> VoiceReply`: one voice turn (what the caller said, from `<Gather
  input="speech">`); the reply comes from `call.voice_reply` (the tenant's scripted prompts today, the AI agent's
  seam). Both turns are kept in the transcript. Refused (CallNotLive) once the call ended.
- Update `set_disposition(DispositionRequest) -> CallView`: an agent sets or corrects the disposition (with a note
  and a callback time); accepted while the workflow waits after the call (`DISPOSITION_WINDOW`).
- Query `view() -> CallView`.
- At the end: an automatic disposition (never blank: no_answer, busy, failed, voicemail_left, human_connected,
  canceled), the row and a `call_ended` timeline event written, the lead's workflow told of the disposition
  (`call.tell_lead` → its signal `record_call_outcome`; again after each correction; patch
  `call-outcome-tells-lead`), the slot released, a missed inbound call turned into a task, and an unanswered
  outbound attempt retried per the tenant's policy (max attempts, spacing) at the next moment inside the lead's
  business hours, as a child workflow of the next attempt that outlives this one. A sequence's call is not retried:
  its enrollment, told by signal `call_ended`, decides what follows.
"""

import asyncio
from datetime import timedelta
from typing import TypeVar, Unpack, overload

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

from core.queues import (
    CALL_PLACE_RETRY,
    CALL_PLACE_SCHEDULE_TO_CLOSE,
    CALL_PROVIDER_TIMEOUT,
    CALL_SLOT_RETRY,
    CALL_SLOT_TIMEOUT,
    CALL_SUMMARY,
    CALL_TELL_LEAD,
    CALL_VOICE_REPLY_TIMEOUT,
    DB_WRITE,
    ActivityOptions,
)
from domain.calls import (
    MACHINE_ANSWERS,
    RETRYABLE_DISPOSITIONS,
    TERMINAL_STATUSES,
    CallDisposition,
    CallStatus,
    moves_forward,
)
from domain.sequences.schedule import next_window_start, zone
from workflows import search_attributes
from workflows.call_types import (
    ACQUIRE_CALL_SLOT,
    CALL_AI_SUMMARY_PATCH,
    CALL_DISPOSITION_EVENT,
    CALL_ENDED_EVENT,
    CALL_LOCAL_STEPS_PATCH,
    CALL_NOT_LIVE,
    CALL_OUTCOME_TELLS_LEAD_PATCH,
    CALL_SLOT_WAKES_PATCH,
    CALLER_SAID_UPDATE,
    CREATE_MISSED_CALL_TASK,
    HANG_UP_CALL,
    MIRROR_CALL,
    PLACE_CALL,
    PREPARE_CALL,
    PROVIDER_EVENT_SIGNAL,
    RELEASE_CALL_SLOT,
    RENEW_CALL_SLOT,
    REQUEST_CALL_SLOT,
    SET_DISPOSITION_UPDATE,
    SLOT_MAY_BE_FREE_SIGNAL,
    SUMMARIZE_CALL,
    TELL_LEAD_CALL_OUTCOME,
    VOICE_REPLY,
    AnsweredByEvent,
    CallerUtterance,
    CallLink,
    CallMirror,
    CallOutcome,
    CallPlan,
    CallRef,
    CallStatusEvent,
    CallSummary,
    CallTranscript,
    CallView,
    CallWorkflowInput,
    DialEvent,
    DispositionRequest,
    MissedCallTask,
    PlacedCall,
    ProviderEventEnvelope,
    RecordingEvent,
    SlotDecision,
    SlotRequest,
    TranscriptTurn,
    VoiceReply,
    VoiceTurn,
)
from workflows.ids import call_workflow_id, lead_workflow_id
from workflows.lead_types import RECORD_CALL_SIGNAL
from workflows.sequence_types import SEQUENCE_CALL_ENDED_SIGNAL, SequenceCallEnded
from workflows.shared import run_local_activity

# A call still live after this long is hung up: no real conversation lasts it, a lost `completed` callback might.
MAX_CALL_DURATION = timedelta(hours=4)
# An agent may set or correct the disposition through the workflow for this long after the call.
DISPOSITION_WINDOW = timedelta(hours=24)
# The slot lease is renewed this often while the call lives (the lease's TTL is three times longer).
SLOT_RENEW_EVERY = timedelta(seconds=20)
# A failed local step is followed by a timer this short before the code that reads what updates change.
AFTER_LOCAL_STEP = timedelta(milliseconds=1)
_Result = TypeVar("_Result")

FALLBACK_REPLY = VoiceReply(say="Sorry, something went wrong on our side. We will call you back.", action="hang_up")


def automatic_disposition(view: CallView, plan: CallPlan | None, direction: str) -> CallDisposition:
    status = view.status
    if status == CallStatus.BUSY:
        return CallDisposition.BUSY
    if status == CallStatus.NO_ANSWER:
        return CallDisposition.NO_ANSWER
    if status == CallStatus.CANCELED:
        return CallDisposition.CANCELED
    if status != CallStatus.COMPLETED:
        return CallDisposition.FAILED
    if view.answered_by in MACHINE_ANSWERS:
        if plan is not None and plan.voicemail_policy == "drop_message":
            return CallDisposition.VOICEMAIL_LEFT
        return CallDisposition.NO_ANSWER
    if view.dial_status is not None and view.dial_status not in ("completed", "answered"):
        # The bridge to the lead (click-to-call) or to an agent (inbound) was not answered.
        return CallDisposition.BUSY if view.dial_status == "busy" else CallDisposition.NO_ANSWER
    if direction == "inbound" and not _inbound_answered(view):
        return CallDisposition.NO_ANSWER
    return CallDisposition.HUMAN_CONNECTED


def _inbound_answered(view: CallView) -> bool:
    """An inbound call counts as answered when an agent picked up or the caller spoke with the voice agent."""
    if view.dial_status in ("completed", "answered"):
        return True
    return any(turn.speaker == "caller" for turn in view.transcript)


@workflow.defn
class CallWorkflow:
    @workflow.init
    def __init__(self, data: CallWorkflowInput) -> None:
        self._input = data
        self._view = CallView(
            call_id=data.call_id,
            status=CallStatus.QUEUED,
            provider_sid=data.provider_sid,
            scheduled_for=data.not_before,
        )
        if data.direction == "inbound":
            self._view = self._view.model_copy(update={"status": CallStatus.IN_PROGRESS})
        self._plan: CallPlan | None = None
        self._events: list[CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent] = []
        self._turn_lock = asyncio.Lock()
        self._holds_slot = False
        self._slot_may_be_free = False
        self._final = False

    @workflow.run
    async def run(self, data: CallWorkflowInput) -> CallView:
        ref = CallRef(tenant_id=data.tenant_id, call_id=data.call_id)
        if workflow.patched(CALL_LOCAL_STEPS_PATCH):
            # A workflow task can end while a local activity runs (seen when a query came in meanwhile), and the
            # code after it then runs in the next task, with whatever signals and updates that task brought; a
            # replay runs it in the same task, without them. So the code right after a local activity here never
            # branches on what signals, updates, patches or the clock decide: every patch is decided now, before
            # the first one; the steps followed by a wait on events (the slot's renewal, an inbound call's prepare)
            # stay activities, whose completion is an event; a slot not granted, or a failed prepare, waits a 1 ms
            # timer before reading what signals and updates set; the end decides what it does before its first
            # local step. Later checks of these ids return what is decided now.
            for patch in (CALL_OUTCOME_TELLS_LEAD_PATCH, CALL_AI_SUMMARY_PATCH, CALL_SLOT_WAKES_PATCH):
                workflow.patched(patch)
        try:
            if data.direction == "outbound":
                self._plan = await self._step(PREPARE_CALL, data, result_type=CallPlan, **DB_WRITE)
            else:  # a live inbound call's events are what comes next: they wait for an activity's completion
                self._plan = await workflow.execute_activity(PREPARE_CALL, data, result_type=CallPlan, **DB_WRITE)
        except ActivityError as err:
            workflow.logger.warning("call %s not prepared: %s", data.call_id, err.cause or err)
            await self._after_local_step()  # the end reads what updates change
            return await self._end(CallStatus.FAILED)
        await self._tell_the_lead()
        if data.direction == "outbound":
            try:
                await self._acquire_slot()
                placed = await workflow.execute_activity(
                    PLACE_CALL,
                    ref,
                    result_type=PlacedCall,
                    start_to_close_timeout=CALL_PROVIDER_TIMEOUT,
                    schedule_to_close_timeout=CALL_PLACE_SCHEDULE_TO_CLOSE,
                    retry_policy=CALL_PLACE_RETRY,
                )
            except ActivityError as err:
                workflow.logger.warning("call %s not placed: %s", data.call_id, err.cause or err)
                await self._after_local_step()  # the slot's request is a local step
                return await self._end(CallStatus.FAILED)
            self._view = self._view.model_copy(update={"provider_sid": placed.provider_sid})
            if self._view.status == CallStatus.QUEUED:
                self._set_status(CallStatus.DIALING)
        await self._follow_the_call()
        return await self._end(self._view.status)

    @overload
    async def _step(
        self, name: str, arg: object, *, result_type: type[_Result], **options: Unpack[ActivityOptions]
    ) -> _Result: ...

    @overload
    async def _step(self, name: str, arg: object, **options: Unpack[ActivityOptions]) -> None: ...

    async def _step(
        self, name: str, arg: object, *, result_type: type | None = None, **options: Unpack[ActivityOptions]
    ) -> object:
        """A short step on the database, or the voice reply a caller waits for: a local activity, run in the
        workflow task that asks for it (no round trip through the server's task queue, no workflow task of its own),
        since `call-local-steps`; an activity in histories from before. Only for a step whose next lines read
        nothing that signals, updates, patches or the clock change (see `run`)."""
        if workflow.patched(CALL_LOCAL_STEPS_PATCH):
            return await run_local_activity(name, arg, result_type=result_type, **options)
        return await workflow.execute_activity(name, arg, result_type=result_type, **options)

    async def _after_local_step(self) -> None:
        """A timer of `AFTER_LOCAL_STEP` since `call-local-steps`, so what follows reads signals and updates after an
        event, in the original run and in a replay alike (see `run`); nothing in runs from before."""
        if workflow.patched(CALL_LOCAL_STEPS_PATCH):
            await workflow.sleep(AFTER_LOCAL_STEP)

    async def _tell_the_lead(self) -> None:
        data = self._input
        if data.direction == "inbound":
            return  # the voice webhook told it when the call came in
        link = CallLink(workflow_id=workflow.info().workflow_id, call_id=data.call_id, direction=data.direction)
        try:
            await workflow.get_external_workflow_handle(lead_workflow_id(data.tenant_slug, str(data.lead_id))).signal(
                RECORD_CALL_SIGNAL, link
            )
        except FailureError as err:
            workflow.logger.info("call %s: lead workflow not told: %s", data.call_id, err)

    # Following the call ----------------------------------------------------------------------------------------------

    async def _follow_the_call(self) -> None:
        deadline = workflow.now() + MAX_CALL_DURATION
        while self._view.status not in TERMINAL_STATUSES:
            timeout = SLOT_RENEW_EVERY if self._holds_slot else deadline - workflow.now()
            try:
                await workflow.wait_condition(lambda: bool(self._events), timeout=timeout)
            except TimeoutError:
                if workflow.now() >= deadline:
                    await self._hang_up()
                    self._set_status(CallStatus.COMPLETED)
                    return
                await self._renew_slot()
                continue
            while self._events:
                self._apply(self._events.pop(0))

    def _apply(self, event: CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent) -> None:
        view = self._view
        if view.provider_sid is None:
            self._view = view = view.model_copy(update={"provider_sid": event.call_sid})
        if event.call_sid != view.provider_sid:
            workflow.logger.warning("call %s: event of another call %s ignored", view.call_id, event.call_sid)
            return
        if isinstance(event, CallStatusEvent):
            if moves_forward(view.status, event.status):
                self._set_status(event.status)
            if event.duration_seconds is not None:
                self._view = self._view.model_copy(update={"duration_seconds": event.duration_seconds})
        elif isinstance(event, AnsweredByEvent):
            self._view = view.model_copy(update={"answered_by": event.answered_by})
        elif isinstance(event, DialEvent):
            self._view = view.model_copy(update={"dial_status": event.dial_status})
        else:
            self._view = view.model_copy(
                update={
                    "recording_sid": event.recording_sid,
                    "recording_url": event.recording_url,
                    "recording_duration_seconds": event.duration_seconds,
                }
            )

    def _set_status(self, status: str) -> None:
        self._view = self._view.model_copy(update={"status": status})
        workflow.upsert_search_attributes([search_attributes.CALL_STATUS.value_set(status)])

    @workflow.signal(name=PROVIDER_EVENT_SIGNAL)
    def provider_event(self, envelope: ProviderEventEnvelope) -> None:
        if self._view.status in TERMINAL_STATUSES:
            # After the call (a recording is processed once the call ended): nothing waits for it, apply it now.
            self._apply(envelope.event)
            return
        self._events.append(envelope.event)

    @workflow.signal(name=SLOT_MAY_BE_FREE_SIGNAL)
    def slot_may_be_free(self) -> None:
        """A slot was released (or granted with room behind it) and this call is among the first in its tenant's
        line."""
        self._slot_may_be_free = True

    @workflow.query
    def view(self) -> CallView:
        return self._view

    # Voice turns -----------------------------------------------------------------------------------------------------

    @workflow.update(name=CALLER_SAID_UPDATE)
    async def caller_said(self, utterance: CallerUtterance) -> VoiceReply:
        async with self._turn_lock:
            self._add_turn("caller", utterance.text)
            try:
                reply = await self._step(
                    VOICE_REPLY,
                    VoiceTurn(
                        tenant_id=self._input.tenant_id,
                        call_id=self._input.call_id,
                        transcript=self._view.transcript,
                    ),
                    result_type=VoiceReply,
                    start_to_close_timeout=CALL_VOICE_REPLY_TIMEOUT,
                    schedule_to_close_timeout=CALL_VOICE_REPLY_TIMEOUT * 2,
                    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=2),
                )
            except ActivityError as err:
                workflow.logger.warning("call %s: no voice reply: %s", self._input.call_id, err.cause or err)
                reply = FALLBACK_REPLY
            self._add_turn("agent", reply.say)
            return reply

    @caller_said.validator
    def _validate_caller_said(self, utterance: CallerUtterance) -> None:
        if self._view.status in TERMINAL_STATUSES or self._final:
            raise ApplicationError("the call has ended", type=CALL_NOT_LIVE, non_retryable=True)

    def _add_turn(self, speaker: str, text: str) -> None:
        turn = TranscriptTurn(speaker=speaker, text=text, at=workflow.now())  # type: ignore[arg-type]
        self._view = self._view.model_copy(update={"transcript": (*self._view.transcript, turn)})

    # Disposition -----------------------------------------------------------------------------------------------------

    @workflow.update(name=SET_DISPOSITION_UPDATE)
    async def set_disposition(self, request: DispositionRequest) -> CallView:
        self._view = self._view.model_copy(
            update={
                "disposition": request.disposition,
                "disposition_by": request.actor,
                "disposition_note": request.note,
                "callback_at": request.callback_at,
            }
        )
        workflow.upsert_search_attributes([search_attributes.CALL_DISPOSITION.value_set(request.disposition.value)])
        if self._final:
            # After the call: written at once, with its own timeline event. During the call it waits for the end.
            number = workflow.info().get_current_history_length()
            await self._mirror(final=True, event=CALL_DISPOSITION_EVENT, key=f"{workflow.info().workflow_id}:d{number}")
            await self._tell_lead_the_outcome()
        return self._view

    # The end ---------------------------------------------------------------------------------------------------------

    async def _end(self, status: str) -> CallView:
        if self._view.status != status:
            self._set_status(status)
        # With local steps, what the end does is decided before the first of them, the slot's release (see `run`);
        # runs from before decide as they go.
        local = workflow.patched(CALL_LOCAL_STEPS_PATCH)
        if local:
            self._decide_disposition()
            missed, retry = self._missed_call(), self._retry_due()
        await self._release_slot()
        if not local:
            self._decide_disposition()
        self._view = self._view.model_copy(update={"ended_at": workflow.now()})
        self._final = True
        await workflow.wait_condition(lambda: self._turn_lock.locked() is False)
        await self._summarize()
        await self._mirror(final=True, event=CALL_ENDED_EVENT, key=f"{workflow.info().workflow_id}:ended")
        await self._tell_lead_the_outcome()
        await self._tell_the_enrollment()
        if missed if local else self._missed_call():
            await self._missed_call_task()
        if retry if local else self._retry_due():
            await self._schedule_retry()
        # Corrections by an agent are taken for a while; then the row is the only record.
        try:
            await workflow.wait_condition(lambda: False, timeout=DISPOSITION_WINDOW)
        except TimeoutError:
            pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    def _decide_disposition(self) -> None:
        """The automatic disposition, unless an agent set one during the call."""
        if self._view.disposition is None:
            disposition = automatic_disposition(self._view, self._plan, self._input.direction)
            self._view = self._view.model_copy(update={"disposition": disposition, "disposition_by": "system"})
            workflow.upsert_search_attributes([search_attributes.CALL_DISPOSITION.value_set(disposition.value)])

    async def _mirror(self, *, final: bool, event: str | None = None, key: str | None = None) -> None:
        await self._step(
            MIRROR_CALL,
            CallMirror(
                tenant_id=self._input.tenant_id,
                lead_id=self._input.lead_id,
                view=self._view,
                final=final,
                timeline_event=event,
                timeline_key=key,
            ),
            **DB_WRITE,
        )

    async def _summarize(self) -> None:
        """A conversation gets the AI agent's summary and suggested disposition (none when the AI is off)."""
        view = self._view
        if not any(turn.speaker == "caller" for turn in view.transcript) or not workflow.patched(CALL_AI_SUMMARY_PATCH):
            return
        try:
            summary = await workflow.execute_activity(
                SUMMARIZE_CALL,
                CallTranscript(
                    tenant_id=self._input.tenant_id, call_id=self._input.call_id, transcript=view.transcript
                ),
                result_type=CallSummary,
                **CALL_SUMMARY,
            )
        except ActivityError as err:
            workflow.logger.warning("call %s: no summary: %s", self._input.call_id, err.cause or err)
            return
        if summary.summary:
            self._view = self._view.model_copy(
                update={
                    "summary": summary.summary,
                    "suggested_disposition": summary.suggested_disposition,
                    "summary_by": summary.by,
                }
            )

    async def _tell_lead_the_outcome(self) -> None:
        """The disposition reaches the lead's workflow (its status, its running enrollments) after the row has it."""
        view = self._view
        if view.disposition is None or not workflow.patched(CALL_OUTCOME_TELLS_LEAD_PATCH):
            return
        try:
            await self._step(
                TELL_LEAD_CALL_OUTCOME,
                CallOutcome(
                    tenant_id=self._input.tenant_id,
                    lead_id=self._input.lead_id,
                    call_id=self._input.call_id,
                    disposition=view.disposition,
                    actor=view.disposition_by or "system",
                    enrollment_workflow_id=self._input.enrollment_workflow_id,
                    callback_at=view.callback_at,
                ),
                **CALL_TELL_LEAD,
            )
        except ActivityError as err:
            workflow.logger.warning("call %s: lead not told of the outcome: %s", self._input.call_id, err.cause or err)

    async def _tell_the_enrollment(self) -> None:
        """A sequence's `call` step waits for this call's outcome (signal `call_ended` to its enrollment)."""
        data, view = self._input, self._view
        if data.origin != "sequence" or data.enrollment_workflow_id is None or view.disposition is None:
            return
        ended = SequenceCallEnded(call_id=data.call_id, disposition=view.disposition.value)
        try:
            await workflow.get_external_workflow_handle(data.enrollment_workflow_id).signal(
                SEQUENCE_CALL_ENDED_SIGNAL, ended
            )
        except FailureError as err:
            workflow.logger.info("call %s: enrollment not told (ended meanwhile?): %s", data.call_id, err)

    async def _missed_call_task(self) -> None:
        await self._step(
            CREATE_MISSED_CALL_TASK,
            MissedCallTask(tenant_id=self._input.tenant_id, lead_id=self._input.lead_id, call_id=self._input.call_id),
            **DB_WRITE,
        )

    def _missed_call(self) -> bool:
        return self._input.direction == "inbound" and self._view.disposition == CallDisposition.NO_ANSWER

    def _retry_due(self) -> bool:
        data, plan = self._input, self._plan
        if data.direction != "outbound" or plan is None or self._view.disposition not in RETRYABLE_DISPOSITIONS:
            return False
        if data.origin == "sequence":
            return False  # the sequence's next steps are its retry
        return self._view.disposition_by == "system" and data.attempt < plan.retry_max_attempts

    async def _schedule_retry(self) -> None:
        data, plan = self._input, self._plan
        assert plan is not None
        not_before = next_window_start(
            workflow.now() + timedelta(minutes=plan.retry_spacing_minutes),
            zone(data.lead_timezone),
            data.business_hours,
        )
        next_attempt = data.model_copy(
            update={
                "attempt": data.attempt + 1,
                "call_id": workflow.uuid4(),
                "origin": "retry",
                "not_before": not_before,
            }
        )
        workflow_id = call_workflow_id(data.tenant_slug, str(data.lead_id), data.attempt + 1)
        try:
            await workflow.start_child_workflow(
                CallWorkflow.run,
                next_attempt,
                id=workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=workflow.info().typed_search_attributes.updated(
                    SearchAttributePair(search_attributes.CALL_STATUS, CallStatus.QUEUED.value),
                    SearchAttributePair(search_attributes.CALL_DISPOSITION, ""),
                ),
            )
        except FailureError as err:
            workflow.logger.warning("call %s: next attempt not started: %s", data.call_id, err)
            return
        self._view = self._view.model_copy(update={"next_attempt_workflow_id": workflow_id})
        await self._mirror(final=True)

    # Provider and capacity -------------------------------------------------------------------------------------------

    async def _hang_up(self) -> None:
        try:
            await workflow.execute_activity(
                HANG_UP_CALL,
                CallRef(tenant_id=self._input.tenant_id, call_id=self._input.call_id),
                start_to_close_timeout=CALL_PROVIDER_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as err:
            workflow.logger.warning("call %s not hung up: %s", self._input.call_id, err.cause or err)

    def _slot_request(self) -> SlotRequest:
        plan = self._plan
        assert plan is not None
        return SlotRequest(
            tenant_id=self._input.tenant_id,
            call_id=self._input.call_id,
            concurrent_call_limit=plan.concurrent_call_limit,
            calls_per_second=plan.calls_per_second,
        )

    async def _acquire_slot(self) -> None:
        if self._input.not_before is not None and self._input.not_before > workflow.now():
            await workflow.sleep(self._input.not_before - workflow.now())
        if not workflow.patched(CALL_SLOT_WAKES_PATCH):
            # Histories from before the wake-ups: the activity itself retries until a slot is free.
            await workflow.execute_activity(
                ACQUIRE_CALL_SLOT,
                self._slot_request(),
                start_to_close_timeout=CALL_SLOT_TIMEOUT,
                retry_policy=CALL_SLOT_RETRY,
            )
            self._holds_slot = True
            return
        # Ask; if no slot, wait until a release wakes this call (or pacing or the fallback says ask again). A wake
        # that comes while asking counts: the flag is cleared before the question, not after the answer.
        while True:
            self._slot_may_be_free = False
            decision = await self._step(
                REQUEST_CALL_SLOT,
                self._slot_request(),
                result_type=SlotDecision,
                start_to_close_timeout=CALL_SLOT_TIMEOUT,
                retry_policy=CALL_SLOT_RETRY,
            )
            if decision.granted:
                self._holds_slot = True
                return
            await self._after_local_step()  # the wake-up flag is read after an event
            try:
                await workflow.wait_condition(
                    lambda: self._slot_may_be_free, timeout=timedelta(milliseconds=decision.ask_again_ms)
                )
            except TimeoutError:
                pass

    async def _renew_slot(self) -> None:
        if not self._holds_slot:
            return
        try:
            await workflow.execute_activity(
                RENEW_CALL_SLOT,
                self._slot_request(),
                start_to_close_timeout=CALL_SLOT_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as err:
            workflow.logger.warning("call %s: slot not renewed: %s", self._input.call_id, err.cause or err)

    async def _release_slot(self) -> None:
        if not self._holds_slot:
            return
        await self._step(
            RELEASE_CALL_SLOT,
            self._slot_request(),
            **DB_WRITE,
        )
        self._holds_slot = False

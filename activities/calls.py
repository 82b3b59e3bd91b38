"""Activities of the CallWorkflow: the call row, Twilio, the voice agent, call slots. Thin, and safe to run twice.

Refusals are non-retryable `ApplicationError`s with the types of workflows/call_types.py; waiting (a slot, a
placement's first callback) is a retryable error naming when to ask again.

The tenant's `calls` feature flag is read here, never in the workflow: `call.prepare` of an outbound call and the
first try of `call.place` refuse (`CallsDisabled`) while it is off, so a queued call or a retry scheduled before the
flag went off is never dialled.
"""

import asyncio
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol, Unpack

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.provider_clients import ProviderActivities, ProviderClients
from agent.factory import AgentFactory
from agent.voice import AiVoiceAgent
from channels.voice.accounts import VoiceClients
from channels.voice.callback_tasks import sync_callback_task
from channels.voice.capacity import SlotAnswer
from channels.voice.live import LiveCalls
from channels.voice.placement import CallPlacer, PlacementInFlight, PlacementRefused, PlacementThrottled
from channels.voice.scheduling import CallNotPossible, queue_call
from channels.voice.script import scripted_reply
from channels.voice.slots import SlotWaker, call_capacity
from core.feature_flags import FeatureFlagReader
from core.redis import Keys
from domain.calls import VoiceScript, lead_effect
from domain.feature_flags import FeatureFlag
from models import Lead, TelephonyAccount, Tenant
from providers.twilio.voice import TwilioRejectedError
from repositories.calls import CallRepository
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.tasks import TaskRepository
from repositories.telephony_accounts import TelephonyAccountRepository
from repositories.timeline import TimelineRepository
from workflow_clients.lead import LeadWorkflowClient
from workflows.call_types import (
    ACQUIRE_CALL_SLOT,
    CALL_REJECTED,
    CALLS_DISABLED,
    CREATE_MISSED_CALL_TASK,
    HANG_UP_CALL,
    MIRROR_CALL,
    NO_SLOT_YET,
    NO_TELEPHONY_ACCOUNT,
    PLACE_CALL,
    PLACEMENT_IN_FLIGHT,
    PREPARE_CALL,
    RELEASE_CALL_SLOT,
    RENEW_CALL_SLOT,
    REQUEST_CALL_SLOT,
    SUMMARIZE_CALL,
    TELL_LEAD_CALL_OUTCOME,
    VOICE_REPLY,
    CallMirror,
    CallOutcome,
    CallPlan,
    CallRef,
    CallSummary,
    CallTranscript,
    CallWorkflowInput,
    MissedCallTask,
    PlacedCall,
    SlotDecision,
    SlotRequest,
    VoiceReply,
    VoiceTurn,
)
from workflows.ids import call_workflow_id
from workflows.lead_types import RECORD_CALL_OUTCOME_SIGNAL, LeadCallOutcome
from workflows.sequence_types import START_SEQUENCE_CALL, SequenceCallRequest, SequenceCallStarted

# The longest a slot question waits out the account's pace itself before it answers (a workflow timer for so short
# a wait fires on the server's next whole second at best).
PACE_WAIT_IN_STEP_MS = 1000
# The shortest wait before a call asks for a slot again, in ms.
MIN_ASK_AGAIN_MS = 50


class VoiceAgent(Protocol):
    """Who answers the caller turn by turn: the tenant's AI agent (agent/voice.py) when it is on, its scripted
    prompts otherwise and whenever the AI fails."""

    async def reply(self, *, account: TelephonyAccount, turn: VoiceTurn) -> VoiceReply: ...


class ScriptedVoiceAgent:
    async def reply(self, *, account: TelephonyAccount, turn: VoiceTurn) -> VoiceReply:
        script = VoiceScript.model_validate(account.voice_script or {})
        return scripted_reply(script, turn.transcript, agent_number=account.agent_number)


def _calls_disabled(tenant_id: uuid.UUID) -> ApplicationError:
    return ApplicationError(
        f"the 'calls' feature is off for tenant {tenant_id}: the call is not placed",
        type=CALLS_DISABLED,
        non_retryable=True,
    )


def _no_account(tenant_id: uuid.UUID) -> ApplicationError:
    return ApplicationError(
        f"tenant {tenant_id} has no telephony account", type=NO_TELEPHONY_ACCOUNT, non_retryable=True
    )


class CallActivities(ProviderActivities):
    def __init__(
        self,
        *,
        flags: FeatureFlagReader,
        temporal: Client | None = None,
        agents: AgentFactory | None = None,
        **clients: Unpack[ProviderClients],
    ) -> None:
        super().__init__(**clients)
        session_factory, http, redis, settings = self._sessions, self._http, self._redis, self._settings
        self._temporal = temporal
        self._flags = flags
        self._clients = VoiceClients(http, settings)
        self._placer = CallPlacer(session_factory, self._clients, settings)
        keys = Keys(settings.redis_prefix)
        self._slots = SlotWaker(call_capacity(redis, settings), temporal)
        # A waiter nobody woke asks again after this, well inside the TTL that keeps its place in line.
        self._slot_fallback_ms = int(settings.call_slot_waiter_ttl_seconds * 1000 / 3)
        self._live = LiveCalls(redis, keys)
        scripted = ScriptedVoiceAgent()
        self._ai_voice = (
            AiVoiceAgent(
                factory=agents, session_factory=session_factory, flags=flags, settings=settings, fallback=scripted
            )
            if agents is not None
            else None
        )
        self._voice_agent: VoiceAgent = self._ai_voice or scripted

    @activity.defn(name=PREPARE_CALL)
    async def prepare(self, data: CallWorkflowInput) -> CallPlan:
        """The tenant's policy; the attempt's row when the workflow (a retry) created the attempt itself."""
        async with self._sessions() as session, session.begin():
            account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=data.tenant_id)
            if account is None:
                raise _no_account(data.tenant_id)
            calls = CallRepository(session)
            if await calls.get(data.call_id) is None:
                lead = await LeadRepository(session).by_id(data.lead_id)
                if lead is None or not account.caller_ids:
                    raise ApplicationError("lead or caller id missing", type=CALL_REJECTED, non_retryable=True)
                await calls.insert_if_missing(
                    {
                        "id": data.call_id,
                        "tenant_id": data.tenant_id,
                        "lead_id": data.lead_id,
                        "attempt_key": str(data.attempt),
                        "attempt": data.attempt,
                        "workflow_id": call_workflow_id(data.tenant_slug, str(data.lead_id), data.attempt),
                        "direction": data.direction,
                        "origin": data.origin,
                        "to_number": lead.phone,
                        "from_number": account.caller_ids[0],
                        "callback_token": secrets.token_urlsafe(24),
                        "status": "queued",
                        "transcript": [],
                        "enrollment_workflow_id": data.enrollment_workflow_id,
                    }
                )
            plan = CallPlan(
                voicemail_policy=account.voicemail_policy,  # type: ignore[arg-type]
                human_answer_mode=account.human_answer_mode,  # type: ignore[arg-type]
                retry_max_attempts=account.retry_max_attempts,
                retry_spacing_minutes=account.retry_spacing_minutes,
                concurrent_call_limit=account.concurrent_call_limit,
                calls_per_second=account.calls_per_second,
            )
        # After the row committed, so the refused attempt is on the lead's call history.
        if data.direction == "outbound" and not await self._flags.enabled(data.tenant_id, FeatureFlag.CALLS):
            raise _calls_disabled(data.tenant_id)
        return plan

    @activity.defn(name=PLACE_CALL)
    async def place(self, ref: CallRef) -> PlacedCall:
        # Only before the first try: a later try may follow a dial that reached Twilio, which must be reconciled.
        if activity.info().attempt == 1 and not await self._flags.enabled(ref.tenant_id, FeatureFlag.CALLS):
            raise _calls_disabled(ref.tenant_id)
        try:
            placed = await self._placer.place(ref.call_id)
        except PlacementRefused as exc:
            raise ApplicationError(str(exc), type=CALL_REJECTED, non_retryable=True) from None
        except PlacementInFlight as exc:
            raise ApplicationError(str(exc), type=PLACEMENT_IN_FLIGHT, next_retry_delay=exc.retry_after) from None
        except PlacementThrottled as exc:
            raise ApplicationError(str(exc), type="Throttled") from None
        return PlacedCall(provider_sid=placed.provider_sid, reconciled=placed.reconciled)

    @activity.defn(name=HANG_UP_CALL)
    async def hang_up(self, ref: CallRef) -> None:
        async with self._sessions() as session:
            call = await CallRepository(session).get(ref.call_id)
            account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=ref.tenant_id)
        if call is None or account is None or not call.provider_sid:
            return
        voice, credentials = self._clients.for_account(account)
        try:
            await voice.hang_up(credentials, call.provider_sid)
        except TwilioRejectedError:
            return  # already over

    @activity.defn(name=MIRROR_CALL)
    async def mirror(self, data: CallMirror) -> None:
        view = data.view
        values: dict[str, Any] = {
            "answered_by": view.answered_by,
            "disposition": view.disposition.value if view.disposition else None,
            "disposition_by": view.disposition_by,
            "disposition_note": view.disposition_note,
            "callback_at": view.callback_at,
            "transcript": [turn.model_dump(mode="json") for turn in view.transcript],
        }
        if view.provider_sid:
            values["provider_sid"] = view.provider_sid
        if view.duration_seconds is not None:
            values["duration_seconds"] = view.duration_seconds
        if view.ended_at is not None:
            values["ended_at"] = view.ended_at
        if view.summary:
            values.update(
                summary=view.summary,
                suggested_disposition=view.suggested_disposition.value if view.suggested_disposition else None,
                summary_by=view.summary_by,
            )
        if view.recording_sid:
            values.update(
                recording_sid=view.recording_sid,
                recording_url=view.recording_url,
                recording_duration_seconds=view.recording_duration_seconds,
            )
        async with self._sessions() as session, session.begin():
            await CallRepository(session).mirror(call_id=view.call_id, values=values, status=view.status)
            if data.timeline_event and data.timeline_key:
                await TimelineRepository(session).record(
                    tenant_id=data.tenant_id,
                    lead_id=data.lead_id,
                    kind=data.timeline_event,
                    actor=view.disposition_by or "system",
                    data={
                        "call_id": str(view.call_id),
                        "status": view.status,
                        "disposition": values["disposition"],
                        "note": view.disposition_note,
                        "callback_at": view.callback_at.isoformat() if view.callback_at else None,
                        "duration_seconds": view.duration_seconds,
                    },
                    idempotency_key=data.timeline_key,
                )
        if data.final:
            await self._live.update(
                tenant_id=data.tenant_id, call_id=view.call_id, lead_id=data.lead_id, status=view.status
            )

    @activity.defn(name=START_SEQUENCE_CALL)
    async def start_for_sequence(self, data: SequenceCallRequest) -> SequenceCallStarted:
        """A `call` step's call: its row (once per step execution: the attempt key), then its CallWorkflow (started
        once: the workflow id is the row's). Refused for good without a telephony account or with calls off."""
        if self._temporal is None:
            raise ApplicationError("no Temporal client to start the call", non_retryable=True)
        if not await self._flags.enabled(data.tenant_id, FeatureFlag.CALLS):
            raise _calls_disabled(data.tenant_id)
        try:
            queued = await queue_call(
                sessions=self._sessions,
                temporal=self._temporal,
                tenant_id=data.tenant_id,
                tenant_slug=data.tenant_slug,
                lead_id=data.lead_id,
                attempt_key=data.attempt_key,
                origin="sequence",
                enrollment_workflow_id=data.enrollment_workflow_id,
                business_hours=data.business_hours,
            )
        except CallNotPossible as exc:
            raise ApplicationError(str(exc), type=NO_TELEPHONY_ACCOUNT, non_retryable=True) from None
        return SequenceCallStarted(call_id=queued.call_id, workflow_id=queued.workflow_id)

    @activity.defn(name=TELL_LEAD_CALL_OUTCOME)
    async def tell_lead(self, data: CallOutcome) -> None:
        """Signal the lead's workflow (signal-with-start: a lead whose run ended gets a fresh one) what the call's
        disposition means for it, with the tenant's status key for the stage it moves the lead to. A requested
        callback with its time becomes a task for the lead's owner, due then (once per call and time)."""
        await self._callback_task(data)
        effect = lead_effect(data.disposition)
        if not effect.tells_the_lead:
            return
        if self._temporal is None:
            raise ApplicationError("no Temporal client to tell the lead's workflow", non_retryable=True)
        async with self._sessions() as session:
            tenant = await session.get(Tenant, data.tenant_id)
            lead = await session.get(Lead, data.lead_id)
            if tenant is None or lead is None or lead.tenant_id != tenant.id:
                return  # deleted since: nobody left to tell
            status_key = None
            if effect.stage is not None:
                statuses = await StatusRepository(session).list(tenant_id=tenant.id)
                status_key = next((s.key for s in statuses if s.stage == effect.stage), None)
            enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(
                tenant_id=tenant.id, lead_id=lead.id
            )
        outcome = LeadCallOutcome(
            call_id=data.call_id,
            disposition=data.disposition.value,
            actor=data.actor[:80],
            at=activity.info().current_attempt_scheduled_time,
            conversation=effect.conversation,
            stop=effect.stop,
            status_key=status_key,
            stage=effect.stage,
            from_stages=tuple(sorted(effect.from_stages)),
            enrollment_workflow_id=data.enrollment_workflow_id,
        )
        await LeadWorkflowClient(self._temporal, self._settings).signal_with_start(
            tenant=tenant, lead=lead, signal=RECORD_CALL_OUTCOME_SIGNAL, arg=outcome, active_enrollments=enrollments
        )

    async def _callback_task(self, data: CallOutcome) -> None:
        """The callback the call's disposition asks for (if any) on the owner's list, an earlier one replaced
        (channels/voice/callback_tasks.py: decided from the call row, which the workflow wrote before this step)."""
        async with self._sessions() as session, session.begin():
            await sync_callback_task(session, call_id=data.call_id, actor=data.actor)

    async def _call_back_task(
        self, tenant_id: uuid.UUID, lead_id: uuid.UUID, *, title_note: str, happened: str, due_at: datetime, key: str
    ) -> None:
        async with self._sessions() as session, session.begin():
            lead = await LeadRepository(session).by_id(lead_id)
            if lead is None or lead.tenant_id != tenant_id:
                return
            await TaskRepository(session).call_back(
                lead=lead, title_note=title_note, happened=happened, due_at=due_at, key=key
            )

    @activity.defn(name=VOICE_REPLY)
    async def voice_reply(self, turn: VoiceTurn) -> VoiceReply:
        async with self._sessions() as session:
            account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=turn.tenant_id)
        if account is None:
            raise _no_account(turn.tenant_id)
        return await self._voice_agent.reply(account=account, turn=turn)

    @activity.defn(name=SUMMARIZE_CALL)
    async def summarize(self, data: CallTranscript) -> CallSummary:
        """The AI agent's summary and suggested disposition; empty when the AI is off, out of budget or failing."""
        if self._ai_voice is None:
            return CallSummary()
        found = await self._ai_voice.summarize(
            tenant_id=data.tenant_id, call_id=data.call_id, transcript=data.transcript
        )
        return found or CallSummary()

    @activity.defn(name=CREATE_MISSED_CALL_TASK)
    async def create_missed_call_task(self, data: MissedCallTask) -> None:
        await self._call_back_task(
            data.tenant_id,
            data.lead_id,
            title_note=": missed call",
            happened="called and nobody answered.",
            due_at=activity.info().current_attempt_scheduled_time,
            key=f"missed-call:{data.call_id}",
        )

    @activity.defn(name=REQUEST_CALL_SLOT)
    async def request_slot(self, data: SlotRequest) -> SlotDecision:
        """Take a slot, or hold the call's place in line: asked again when woken (`slot_may_be_free`), when the
        account's pace allows, or after the fallback that keeps a waiter in line. A pace wait of up to a second is
        waited here and the question asked again."""
        workflow_id = activity.info().workflow_id
        answer = await self._ask_for_slot(data, workflow_id=workflow_id)
        waited = 0
        while answer.reason == "pace" and waited + answer.retry_after_ms <= PACE_WAIT_IN_STEP_MS:
            await asyncio.sleep(max(1, answer.retry_after_ms) / 1000)
            waited += max(1, answer.retry_after_ms)
            answer = await self._ask_for_slot(data, workflow_id=workflow_id)
        if answer.granted:
            return SlotDecision(granted=True)
        wait = answer.retry_after_ms if answer.reason == "pace" else self._slot_fallback_ms
        return SlotDecision(granted=False, ask_again_ms=max(MIN_ASK_AGAIN_MS, wait))

    @activity.defn(name=ACQUIRE_CALL_SLOT)
    async def acquire_slot(self, data: SlotRequest) -> None:
        """Histories from before the wake-ups: no slot is a retryable failure, retried as the answer says."""
        answer = await self._ask_for_slot(data, workflow_id=None)
        if not answer.granted:
            raise ApplicationError(
                "no call slot free yet",
                type=NO_SLOT_YET,
                next_retry_delay=timedelta(milliseconds=max(MIN_ASK_AGAIN_MS, answer.retry_after_ms)),
            )

    async def _ask_for_slot(self, data: SlotRequest, *, workflow_id: str | None) -> SlotAnswer:
        answer = await self._slots.capacity.acquire(
            tenant_id=data.tenant_id,
            call_id=data.call_id,
            limit=data.concurrent_call_limit,
            calls_per_second=data.calls_per_second,
            workflow_id=workflow_id,
        )
        await self._slots.wake(answer.wake)
        return answer

    @activity.defn(name=RENEW_CALL_SLOT)
    async def renew_slot(self, data: SlotRequest) -> None:
        await self._slots.capacity.renew(tenant_id=data.tenant_id, call_id=data.call_id)

    @activity.defn(name=RELEASE_CALL_SLOT)
    async def release_slot(self, data: SlotRequest) -> None:
        await self._slots.release(tenant_id=data.tenant_id, call_id=data.call_id)

"""Record CallWorkflow histories for the replay test: `.venv/bin/python scripts/record_call_histories.py [name...]`.

Runs the current CallWorkflow on a throwaway Temporal dev server through the scenarios below, each until the call
has ended and its outcome is written (the workflow then waits for disposition corrections: the history is taken
there), and writes it to tests/workflows/histories/call/<scenario>.json, replayed by
tests/workflows/test_call_replay.py. Names given: only those scenarios (a new one, without re-recording the older
files). See scripts/history_recording.py for when to re-record.
"""

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from history_recording import HISTORIES, dev_server, run, running, selected, stand_in, write_history
from temporalio import activity
from temporalio.client import Client, WorkflowHandle

from core.queues import LEADS_QUEUE
from domain.calls import CallDisposition
from workflows.call import CallWorkflow
from workflows.call_types import (
    ACQUIRE_CALL_SLOT,
    CREATE_MISSED_CALL_TASK,
    HANG_UP_CALL,
    MIRROR_CALL,
    PLACE_CALL,
    PREPARE_CALL,
    PROVIDER_EVENT_SIGNAL,
    RELEASE_CALL_SLOT,
    RENEW_CALL_SLOT,
    REQUEST_CALL_SLOT,
    SUMMARIZE_CALL,
    TELL_LEAD_CALL_OUTCOME,
    VOICE_REPLY,
    AnsweredByEvent,
    CallerUtterance,
    CallPlan,
    CallRef,
    CallStatusEvent,
    CallSummary,
    CallView,
    CallWorkflowInput,
    PlacedCall,
    ProviderEventEnvelope,
    SlotDecision,
    VoiceReply,
    VoiceTurn,
)
from workflows.ids import call_workflow_id

TENANT = uuid.UUID("00000000-0000-4000-8000-0000000ca115")
SID = "CA00000000000000000000000000000001"


@activity.defn(name=PREPARE_CALL)
async def prepare(data: CallWorkflowInput) -> CallPlan:
    return CallPlan(
        voicemail_policy="drop_message",
        human_answer_mode="ai",
        retry_max_attempts=2,
        retry_spacing_minutes=60,
        concurrent_call_limit=5,
        calls_per_second=1.0,
    )


@activity.defn(name=PLACE_CALL)
async def place(ref: CallRef) -> PlacedCall:
    return PlacedCall(provider_sid=SID, reconciled=False)


@activity.defn(name=REQUEST_CALL_SLOT)
async def request_slot(data: object) -> SlotDecision:
    return SlotDecision(granted=True)


@activity.defn(name=VOICE_REPLY)
async def voice_reply(turn: VoiceTurn) -> VoiceReply:
    said = sum(1 for t in turn.transcript if t.speaker == "caller")
    if said == 1:
        return VoiceReply(say="When would you like to visit?", action="listen")
    return VoiceReply(say="Goodbye.", action="hang_up")


@activity.defn(name=SUMMARIZE_CALL)
async def summarize(data: object) -> CallSummary:
    return CallSummary(
        summary="The caller wants to visit on Thursday at five.",
        suggested_disposition=CallDisposition.INTERESTED,
        by="ai:v1",
    )


# Stand-ins whose results the workflow does not read.
QUIET = [
    HANG_UP_CALL,
    MIRROR_CALL,
    CREATE_MISSED_CALL_TASK,
    ACQUIRE_CALL_SLOT,
    RENEW_CALL_SLOT,
    RELEASE_CALL_SLOT,
    TELL_LEAD_CALL_OUTCOME,
]


async def start(client: Client, name: str, **extra: object) -> WorkflowHandle[CallWorkflow, CallView]:
    lead_id = uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-record:{name}")
    data = CallWorkflowInput.model_validate(
        {
            "tenant_id": TENANT,
            "tenant_slug": "record",
            "lead_id": lead_id,
            "call_id": uuid.uuid4(),
            "attempt": 1,
            "origin": "agent",
            **extra,
        }
    )
    return await client.start_workflow(
        CallWorkflow.run, data, id=call_workflow_id("record", str(lead_id), 1), task_queue=LEADS_QUEUE
    )


async def status(handle: WorkflowHandle[CallWorkflow, CallView], value: str, number: int, **extra: int) -> None:
    event = CallStatusEvent(call_sid=SID, status=value, sequence_number=number, **extra)
    await handle.signal(PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=event))


async def statuses(handle: WorkflowHandle[CallWorkflow, CallView], *values: str) -> None:
    """Twilio's status callbacks in order, numbered from 0."""
    for number, value in enumerate(values):
        await status(handle, value, number)


async def ended(handle: WorkflowHandle[CallWorkflow, CallView], within: float = 30.0) -> None:
    for _ in range(int(within / 0.1)):
        if (await handle.query(CallWorkflow.view)).ended_at is not None:
            await asyncio.sleep(0.5)  # the final mirror and the retry's start land in history
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{handle.id} did not end")


async def conversation(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    return await _conversation(client, "conversation")


async def conversation_slot_wakes(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    """The conversation on the code that asks for a slot and waits to be woken (`call-slot-wakes`)."""
    return await _conversation(client, "conversation_slot_wakes")


async def conversation_local_steps(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    """The conversation on the code that runs its short steps as local activities (`call-local-steps`)."""
    return await _conversation(client, "conversation_local_steps")


async def _conversation(client: Client, name: str) -> WorkflowHandle[CallWorkflow, CallView]:
    handle = await start(client, name)
    await statuses(handle, "initiated", "ringing", "in-progress")
    answered = AnsweredByEvent(call_sid=SID, answered_by="human")
    await handle.signal(PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=answered))
    for text in ("Yes, it is", "Thursday at five"):
        await handle.execute_update(CallWorkflow.caller_said, CallerUtterance(call_sid=SID, text=text))
    await status(handle, "completed", 3, duration_seconds=42)
    return handle


async def conversation_summarised(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    """A conversation on the code that tells the lead its outcome and summarises the call (both patches)."""
    handle = await start(client, "conversation_summarised")
    await statuses(handle, "initiated", "ringing", "in-progress")
    for text in ("Yes, it is", "Thursday at five"):
        await handle.execute_update(CallWorkflow.caller_said, CallerUtterance(call_sid=SID, text=text))
    await status(handle, "completed", 3, duration_seconds=42)
    return handle


async def sequence_no_answer(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    """A sequence step's call nobody answers: no retry of its own; its enrollment is told (here it does not run)."""
    handle = await start(
        client, "sequence_no_answer", origin="sequence", enrollment_workflow_id="enrollment:record:gone"
    )
    await statuses(handle, "initiated", "ringing", "no-answer")
    return handle


async def voicemail(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    handle = await start(client, "voicemail")
    await status(handle, "ringing", 1)  # out of order: initiated comes after ringing
    await status(handle, "initiated", 0)
    await status(handle, "in-progress", 2)
    machine = AnsweredByEvent(call_sid=SID, answered_by="machine_end_beep")
    await handle.signal(PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=machine))
    await status(handle, "completed", 3, duration_seconds=12)
    return handle


async def busy_then_retry(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    handle = await start(client, "busy_then_retry")
    await statuses(handle, "initiated", "ringing", "busy")
    await status(handle, "busy", 2)  # a repeated callback changes nothing
    return handle


SCENARIOS: list[Callable[[Client], Awaitable[WorkflowHandle[CallWorkflow, CallView]]]] = [
    conversation,
    voicemail,
    busy_then_retry,
    conversation_summarised,
    sequence_no_answer,
    conversation_slot_wakes,
    conversation_local_steps,
]


async def record(out_dir: Path = HISTORIES / "call", names: set[str] | None = None) -> list[Path]:
    activities = [prepare, request_slot, place, voice_reply, summarize, *(stand_in(name) for name in QUIET)]
    written: list[Path] = []
    async with running(dev_server, task_queue=LEADS_QUEUE, workflows=[CallWorkflow], activities=activities) as env:
        for scenario in selected(SCENARIOS, names):
            handle = await scenario(env.client)
            await ended(handle)
            written.append(await write_history(handle, out_dir / f"{scenario.__name__}.json"))
    return written


if __name__ == "__main__":
    run(record(names=set(sys.argv[1:]) or None))

"""Record CallWorkflow histories for the replay test: `.venv/bin/python scripts/record_call_histories.py`.

Runs the current CallWorkflow on a throwaway Temporal dev server through the scenarios below, each until the call
has ended and its outcome is written (the workflow then waits for disposition corrections: the history is taken
there), and writes it to tests/workflows/histories/call/<scenario>.json. tests/workflows/test_call_replay.py
replays them: a change that would break running calls (a command added, removed or reordered) fails there.

Re-record only for a deliberate, versioned change (workflow.patched) or a new scenario. The activities are stand-ins
with the real names and types (a history holds only their results), so no database, Redis or Twilio is needed.
"""

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.queues import LEADS_QUEUE  # noqa: E402
from worker.main import workflow_runner  # noqa: E402
from workflows import search_attributes  # noqa: E402
from workflows.call import CallWorkflow  # noqa: E402
from workflows.call_types import (  # noqa: E402
    ACQUIRE_CALL_SLOT,
    CREATE_MISSED_CALL_TASK,
    HANG_UP_CALL,
    MIRROR_CALL,
    PLACE_CALL,
    PREPARE_CALL,
    PROVIDER_EVENT_SIGNAL,
    RELEASE_CALL_SLOT,
    RENEW_CALL_SLOT,
    VOICE_REPLY,
    AnsweredByEvent,
    CallerUtterance,
    CallMirror,
    CallPlan,
    CallRef,
    CallStatusEvent,
    CallView,
    CallWorkflowInput,
    MissedCallTask,
    PlacedCall,
    ProviderEventEnvelope,
    SlotRequest,
    VoiceReply,
    VoiceTurn,
)
from workflows.ids import call_workflow_id  # noqa: E402

HISTORIES = ROOT / "tests" / "workflows" / "histories" / "call"
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
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


@activity.defn(name=HANG_UP_CALL)
async def hang_up(ref: CallRef) -> None:
    return None


@activity.defn(name=MIRROR_CALL)
async def mirror(data: CallMirror) -> None:
    return None


@activity.defn(name=VOICE_REPLY)
async def voice_reply(turn: VoiceTurn) -> VoiceReply:
    said = sum(1 for t in turn.transcript if t.speaker == "caller")
    if said == 1:
        return VoiceReply(say="When would you like to visit?", action="listen")
    return VoiceReply(say="Goodbye.", action="hang_up")


@activity.defn(name=CREATE_MISSED_CALL_TASK)
async def missed_call_task(data: MissedCallTask) -> None:
    return None


@activity.defn(name=ACQUIRE_CALL_SLOT)
async def acquire_slot(data: SlotRequest) -> None:
    return None


@activity.defn(name=RENEW_CALL_SLOT)
async def renew_slot(data: SlotRequest) -> None:
    return None


@activity.defn(name=RELEASE_CALL_SLOT)
async def release_slot(data: SlotRequest) -> None:
    return None


async def start(client: Client, name: str) -> WorkflowHandle[CallWorkflow, CallView]:
    lead_id = uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-record:{name}")
    data = CallWorkflowInput(
        tenant_id=TENANT, tenant_slug="record", lead_id=lead_id, call_id=uuid.uuid4(), attempt=1, origin="agent"
    )
    return await client.start_workflow(
        CallWorkflow.run, data, id=call_workflow_id("record", str(lead_id), 1), task_queue=LEADS_QUEUE
    )


async def status(handle: WorkflowHandle[CallWorkflow, CallView], value: str, number: int, **extra: int) -> None:
    event = CallStatusEvent(call_sid=SID, status=value, sequence_number=number, **extra)
    await handle.signal(PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=event))


async def ended(handle: WorkflowHandle[CallWorkflow, CallView], within: float = 30.0) -> None:
    for _ in range(int(within / 0.1)):
        if (await handle.query(CallWorkflow.view)).ended_at is not None:
            await asyncio.sleep(0.5)  # the final mirror and the retry's start land in history
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{handle.id} did not end")


async def conversation(client: Client) -> WorkflowHandle[CallWorkflow, CallView]:
    handle = await start(client, "conversation")
    for number, value in enumerate(("initiated", "ringing", "in-progress")):
        await status(handle, value, number)
    answered = AnsweredByEvent(call_sid=SID, answered_by="human")
    await handle.signal(PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=answered))
    for text in ("Yes, it is", "Thursday at five"):
        await handle.execute_update(CallWorkflow.caller_said, CallerUtterance(call_sid=SID, text=text))
    await status(handle, "completed", 3, duration_seconds=42)
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
    for number, value in enumerate(("initiated", "ringing", "busy")):
        await status(handle, value, number)
    await status(handle, "busy", 2)  # a repeated callback changes nothing
    return handle


SCENARIOS: list[Callable[[Client], Awaitable[WorkflowHandle[CallWorkflow, CallView]]]] = [
    conversation,
    voicemail,
    busy_then_retry,
]


async def record(out_dir: Path = HISTORIES) -> list[Path]:
    env = await WorkflowEnvironment.start_local(
        namespace="default",
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(TEMPORAL_CLI),
        search_attributes=search_attributes.ALL,
        ui=False,
        dev_server_log_level="error",
    )
    written: list[Path] = []
    try:
        async with Worker(
            env.client,
            task_queue=LEADS_QUEUE,
            workflows=[CallWorkflow],
            activities=[
                prepare,
                place,
                hang_up,
                mirror,
                voice_reply,
                missed_call_task,
                acquire_slot,
                renew_slot,
                release_slot,
            ],
            workflow_runner=workflow_runner(),
        ):
            for scenario in SCENARIOS:
                handle = await scenario(env.client)
                await ended(handle)
                history = await handle.fetch_history()
                path = out_dir / f"{scenario.__name__}.json"
                path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
                written.append(path)
    finally:
        await env.shutdown()
    return written


def main() -> None:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    paths = asyncio.run(record())
    for path in paths:
        print(path.relative_to(ROOT))
    sys.stdout.flush()
    os._exit(0)  # temporalio can abort in finalisers at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()

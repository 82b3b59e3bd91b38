"""AI reply benchmark: what Leadflow adds between an inbound WhatsApp message and the AI's reply.

    ./run bench ai_reply [--rate 20] [--duration 60] [--model-delay 0.5] [--debounce 1.0]

On a throwaway stack (bench/harness.py) plus the provider sandbox as its own process, a tenant whose AI agent runs in
`auto` mode on the sandbox model, which answers every chat completion after a fixed delay D (`--model-delay`). A
driver asks the sandbox to deliver `rate x duration` signed inbound webhooks ("how much is it?"), open loop, each
from a new phone number (each a new conversation: signal-with-start of a new lead). The sandbox answers the driver
once the API acknowledged its webhook. The reply is the sandbox's record of the AI's send for that number.

Reported: p50/p99 of (reply accepted by the sandbox - webhook acknowledged - debounce - D), the overhead Leadflow
adds (webhook inbox, dispatcher, lead workflow, plan, turn activity with its database reads and usage writes,
the outbox send); the conversations that got no reply in time; CPU per conversation of each stack process, as
measured and beyond what the stack uses at rest (measured for 5 s before the drive: pollers and timers, which a small
run would otherwise spread over few conversations); and where the time goes: for up to 100 sampled conversations,
p50/p99 between consecutive marks of their lead workflow's history (started, debounce timer started/due/fired or the
debounce's end in the turn, each activity scheduled/started/completed, the reply at the sandbox).
Figures only: nothing here asserts a time.
"""

import argparse
import asyncio
import itertools
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from api.schemas.whatsapp import WhatsAppAccountUpdate
from api.services.whatsapp_accounts import put_account
from bench.harness import (
    BenchStack,
    add_stack_arguments,
    cpu_report,
    exit_now,
    machine_load,
    percentile,
    prepare_sandbox,
    say,
    start_sandbox,
)
from bench.tenants import bench_tenant
from channels.whatsapp.shard_router import ShardRouter
from core.secret_box import SecretBox
from models import Lead
from repositories.ai_agent_settings import AiAgentSettingsRepository
from workflows.ai_types import RUN_AI_TURN, AiTurnInput
from workflows.ids import lead_workflow_id

SANDBOX_OPENAI_KEY = "bench-openai-key"


async def set_up_tenant(stack: BenchStack, sandbox_url: str, *, debounce: float) -> str:
    assert stack.session_factory is not None
    settings = stack.settings.model_copy(update={"sandbox_base_url": sandbox_url})
    async with stack.session_factory() as session:
        tenant = await bench_tenant(session, name="Bench AI", slug=f"bench-ai-{stack.run_id}")
        await put_account(
            session=session,
            tenant_id=tenant.id,
            data=WhatsAppAccountUpdate(provider="sandbox"),
            router=ShardRouter([]),
            settings=settings,
        )
        await AiAgentSettingsRepository(session).add_version(
            tenant_id=tenant.id,
            values={
                "mode": "auto",
                "model": "sandbox-model",
                "base_url": f"{sandbox_url}/v1",
                "api_key": SecretBox.for_settings(settings).seal(SANDBOX_OPENAI_KEY),
                "system_prompt": "You are the assistant of a gym.",
                "facts": "Membership price: 40 EUR per month",
                "temperature": 0.0,
                "max_output_tokens": 200,
                "tools": ["get_lead", "set_status", "handoff_to_human", "schedule_callback", "stop_sequences"],
                "answer_hours": None,
                "debounce_seconds": debounce,
                "draft_timeout_minutes": 60,
                "monthly_token_budget_soft": None,
                "monthly_token_budget_hard": None,
                "created_by": "bench",
            },
        )
        await session.commit()
        return tenant.slug


async def drive(sandbox_url: str, *, rate: float, duration: float) -> dict[str, float]:
    """Deliver the inbound messages open loop; the acknowledgement time (epoch seconds) per phone number."""
    total = int(rate * duration)
    acknowledged: dict[str, float] = {}
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:

        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            phone = f"+1415{7000000 + i:07d}"
            answer = await http.post("/_sandbox/inbound", json={"from": phone, "text": "how much is it?"})
            if answer.status_code == 200 and answer.json()["delivery"]["status_code"] == 200:
                acknowledged[phone] = time.time()

        await asyncio.gather(*(one(i) for i in range(total)))
    return acknowledged


async def replies(sandbox_url: str, phones: set[str], *, within: float) -> dict[str, float]:
    """The sandbox's acceptance time of the first reply to each phone, waiting up to `within` seconds for all."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        while time.monotonic() < deadline:
            messages: list[dict[str, Any]] = (await http.get("/_sandbox/messages")).json()["messages"]
            for message in messages:
                if message["to"] in phones and message["to"] not in found:
                    found[message["to"]] = datetime.fromisoformat(message["accepted_at"]).timestamp()
            if len(found) == len(phones):
                break
            await asyncio.sleep(0.5)
    return found


IDLE_SECONDS = 5.0
HOP_SAMPLE = 100


# A lead's speed-to-lead watch is a timer of minutes: the debounce timer is the one shorter than this.
DEBOUNCE_TIMER_MAX_SECONDS = 60.0


async def _marks_of(stack: BenchStack, events: list[Any], acknowledged: float, replied: float) -> dict[str, float]:
    """The times (epoch seconds) of one conversation's marks, from its lead workflow's history."""
    assert stack.temporal is not None
    marks: dict[str, float] = {"acknowledged": acknowledged}
    activities: dict[int, str] = {}
    for event in events:
        at = event.event_time.ToDatetime().replace(tzinfo=UTC).timestamp()
        kind = EventType.Name(event.event_type)
        if kind == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED":
            marks["started"] = at
        elif kind == "EVENT_TYPE_TIMER_STARTED":
            seconds = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            if seconds < DEBOUNCE_TIMER_MAX_SECONDS:
                marks.setdefault("debounce timer started", at)
                marks.setdefault("debounce timer due", at + seconds)
        elif kind == "EVENT_TYPE_TIMER_FIRED" and "debounce timer started" in marks:
            marks.setdefault("debounce timer fired", at)
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            scheduled = event.activity_task_scheduled_event_attributes
            name = scheduled.activity_type.name
            activities[event.event_id] = name
            marks.setdefault(f"{name} scheduled", at)
            if name == RUN_AI_TURN and "debounce ends in the turn" not in marks:
                (turn,) = await stack.temporal.data_converter.decode(scheduled.input.payloads, [AiTurnInput])
                if turn.not_before is not None:
                    marks["debounce ends in the turn"] = turn.not_before.timestamp()
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_STARTED":
            name = activities[event.activity_task_started_event_attributes.scheduled_event_id]
            marks.setdefault(f"{name} started", at)
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED":
            name = activities[event.activity_task_completed_event_attributes.scheduled_event_id]
            marks.setdefault(f"{name} completed", at)
    marks["reply accepted"] = replied
    return marks


async def print_hops(
    stack: BenchStack,
    slug: str,
    acknowledged: dict[str, float],
    replied: dict[str, float],
    *,
    model_delay: float,
    debounce: float,
) -> None:
    """Where a sample of conversations spent their time, mark to mark (p50/p99 ms), read from their histories."""
    assert stack.session_factory is not None and stack.temporal is not None
    phones = [phone for phone in replied if phone in acknowledged][:: max(1, len(replied) // HOP_SAMPLE)]
    async with stack.session_factory() as session:
        leads = dict((await session.execute(select(Lead.phone, Lead.id).where(Lead.phone.in_(phones)))).all())
    gaps: dict[str, list[float]] = {}
    for phone in phones:
        history = await stack.temporal.get_workflow_handle(lead_workflow_id(slug, str(leads[phone]))).fetch_history()
        marks = await _marks_of(stack, list(history.events), acknowledged[phone], replied[phone])
        ordered = sorted(marks.items(), key=lambda item: item[1])
        for (before, at_before), (after, at_after) in itertools.pairwise(ordered):
            gaps.setdefault(f"{before} -> {after}", []).append((at_after - at_before) * 1000)
    print(f"where the time goes ({len(phones)} conversations; the debounce is {debounce}s, the model {model_delay}s):")
    for hop, values in sorted(gaps.items(), key=lambda item: -percentile(item[1], 50)):
        print(f"  {hop}: p50 {percentile(values, 50):.1f} ms, p99 {percentile(values, 99):.1f} ms ({len(values)})")


async def main(args: argparse.Namespace) -> None:
    stack = BenchStack.from_args(args)
    sandbox_port = prepare_sandbox(stack, LEADFLOW_OPENAI_SANDBOX_API_KEY=SANDBOX_OPENAI_KEY)
    async with stack:
        sandbox_url = await start_sandbox(stack, sandbox_port, model_delay_seconds=args.model_delay, auto_status=False)
        slug = await set_up_tenant(stack, sandbox_url, debounce=args.debounce)
        say(f"machine load before: {machine_load()}")
        # The stack's CPU at rest (pollers, timers), so that a small run's per-conversation figures can leave it out.
        idle_before, idle_started = stack.cpu_seconds(), time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        idle_after = stack.cpu_seconds()
        idle_rate = {
            name: max(0.0, idle_after[name] - idle_before.get(name, 0.0)) / (time.monotonic() - idle_started)
            for name in idle_after
        }
        stack.start_profiles()
        before = stack.cpu_seconds()
        started = time.monotonic()
        acknowledged = await drive(sandbox_url, rate=args.rate, duration=args.duration)
        replied = await replies(sandbox_url, set(acknowledged), within=args.debounce + args.model_delay + 120)
        seconds = time.monotonic() - started
        after = stack.cpu_seconds()
        overhead = [
            (replied[p] - acknowledged[p] - args.debounce - args.model_delay) * 1000
            for p in replied
            if p in acknowledged
        ]
        print(
            f"conversations: {int(args.rate * args.duration)} sent, {len(acknowledged)} acknowledged, "
            f"{len(replied)} replied"
        )
        if overhead:
            print(
                f"overhead (reply - acknowledged - debounce {args.debounce}s - model {args.model_delay}s): "
                f"p50 {percentile(overhead, 50):.0f} ms, p99 {percentile(overhead, 99):.0f} ms, "
                f"max {max(overhead):.0f} ms"
            )
        print(cpu_report(before, after, seconds=seconds, operations=max(1, len(replied)), unit="conversation"))
        beyond_idle = {name: before.get(name, 0.0) + idle_rate.get(name, 0.0) * seconds for name in after}
        print(
            f"beyond the stack's CPU at rest ({IDLE_SECONDS:.0f} s measured before the drive): "
            + cpu_report(beyond_idle, after, seconds=seconds, operations=max(1, len(replied)), unit="conversation")
        )
        print(f"machine load after: {machine_load()}")
        await print_hops(stack, slug, acknowledged, replied, model_delay=args.model_delay, debounce=args.debounce)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--model-delay", type=float, default=0.5)
    parser.add_argument("--debounce", type=float, default=1.0)
    add_stack_arguments(parser)
    asyncio.run(main(parser.parse_args()))
    exit_now(0)

"""Call capacity: many call attempts over several tenants against their slot limits, through the Twilio sandbox.

    ./run bench call_capacity        # --attempts 500 --tenants 5 --slots 10 --call-seconds 3 --cps 5

A throwaway stack (bench/harness.py) plus the provider sandbox as its own process. Each tenant gets a `sandbox`
telephony account with `--slots` concurrent calls and `--cps` calls per second, and the voice agent answering; each
lead's persona answers and says two utterances over about `--call-seconds`. All attempts are started at once through
`POST /api/v1/leads/{id}/calls`; the run ends when every call has ended in the sandbox.

Reported: per tenant the most calls the sandbox saw at once (from each call's placement to its end: must equal the
limit, never exceed it), slot utilisation (call time over slots x drain time), the time to drain against the ideal
(the larger of attempts/cps and rounds of calls through the slots), and the turn endpoint's answer time (webhook in
-> TwiML out, measured by the sandbox on each `<Gather>` post; the scripted agent has no model time to exclude).
Figures only: nothing is asserted.
"""

import argparse
import asyncio
import json
import math
import os
import secrets
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.harness import (
    BenchStack,
    add_stack_arguments,
    cpu_report,
    free_port,
    machine_load,
    percentile,
    run_and_exit,
    say,
)
from bench.tenants import bench_tenant, owner_api_key
from devstack.processes import wait_until
from models import Lead

TENANT_NUMBER = "+14155550100"


class CallBenchStack(BenchStack):
    """The bench stack plus the provider sandbox, which the worker's Twilio client and the callbacks go through."""

    def __init__(self, *, global_limit: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.global_limit = global_limit

    def _child_env(self) -> dict[str, str]:
        return {
            **super()._child_env(),
            "LEADFLOW_SANDBOX_BASE_URL": self.sandbox_url,
            "LEADFLOW_CALL_GLOBAL_CONCURRENT_LIMIT": str(self.global_limit),
        }

    async def _start(self) -> None:
        os.environ.update(self._child_env())
        sandbox = self._python_child("sandbox", "-m", "sandbox", "--port", str(self.sandbox_port))
        await asyncio.to_thread(
            wait_until,
            "the provider sandbox",
            lambda: httpx.get(f"{self.sandbox_url}/_sandbox/health", timeout=3).status_code == 200,
            child=sandbox,
            timeout=60,
        )
        await super()._start()


def phone(tenant: int, i: int) -> str:
    return f"+1415{tenant:01d}{i:06d}"[:12]


async def setup_tenant(stack: BenchStack, http: httpx.AsyncClient, n: int, args: argparse.Namespace) -> dict[str, Any]:
    assert stack.session_factory is not None
    async with stack.session_factory() as session:
        tenant = await bench_tenant(session, name=f"Bench {n}", slug=f"bench-{stack.run_id}-{n}")
        key = await owner_api_key(session, tenant)
        await session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    account_sid = "AC" + secrets.token_hex(16)
    answer = await http.put(
        "/api/v1/telephony/account",
        json={
            "provider": "sandbox",
            "account_sid": account_sid,
            "caller_ids": [TENANT_NUMBER],
            "concurrent_call_limit": args.slots,
            "calls_per_second": args.cps,
            "human_answer_mode": "ai",
            "voice_script": {"opening": "Hello!", "prompts": ["Noted. Anything else?"], "closing": "Goodbye."},
        },
        headers=headers,
    )
    answer.raise_for_status()
    return {"id": tenant.id, "headers": headers, "account_sid": account_sid}


async def add_leads(stack: BenchStack, tenant_id: uuid.UUID, phones: list[str]) -> list[uuid.UUID]:
    assert stack.session_factory is not None
    async with stack.session_factory() as session:
        leads = [
            Lead(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                phone=p,
                name="Bench",
                source="bench",
                status_key="new",
                stage="new",
                timezone="UTC",
                custom_fields={},
            )
            for p in phones
        ]
        session.add_all(leads)
        await session.commit()
        return [lead.id for lead in leads]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def handovers(intervals: list[tuple[float, float]]) -> list[float]:
    """How long a freed slot stood empty: from each call's end to the tenant's next placement (ends after the last
    placement, with nothing left waiting, are left out)."""
    starts = sorted(start for start, _ in intervals)
    return [next(start for start in starts if start >= end) - end for _, end in intervals if end <= starts[-1]]


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


async def run(args: argparse.Namespace) -> int:
    stack = CallBenchStack(
        global_limit=args.tenants * args.slots,
        keep_logs=args.keep_logs,
        temporal_db=args.temporal_db,
        api_workers=args.api_workers,
        bulk_workers=args.bulk_workers,
        profile=tuple(name for name in (args.profile or "").split(",") if name),
        profile_dir=args.profile_dir,
    )
    async with stack:
        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http,
            httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as sandbox,
        ):
            tenants = [await setup_tenant(stack, http, n, args) for n in range(args.tenants)]
            per_tenant = args.attempts // args.tenants
            work: list[tuple[dict[str, Any], uuid.UUID]] = []
            talk = max(0.0, args.call_seconds / 2)
            for n, tenant in enumerate(tenants):
                phones = [phone(n, i) for i in range(per_tenant)]
                for p in phones:
                    await sandbox.post(
                        "/_sandbox/twilio/personas",
                        json={"number": p, "behaviour": "human", "utterances": ["Hi", "No, thanks"],
                              "talk_seconds": talk, "amd_seconds": 0.2},
                    )  # fmt: skip
                work += [(tenant, lead_id) for lead_id in await add_leads(stack, tenant["id"], phones)]
            say(f"{len(work)} call attempts over {args.tenants} tenants, {args.slots} slots each, {args.cps} calls/s")
            load_before = machine_load()
            stack.start_profiles()
            cpu_before = stack.cpu_seconds()
            started = time.time()
            pending = list(reversed(work))
            answers: dict[int, int] = {}

            async def start_calls() -> None:
                while pending:
                    tenant, lead_id = pending.pop()
                    answer = await http.post(
                        f"/api/v1/leads/{lead_id}/calls", json={"ring_agent_first": False}, headers=tenant["headers"]
                    )
                    answers[answer.status_code] = answers.get(answer.status_code, 0) + 1

            await asyncio.gather(*(start_calls() for _ in range(16)))
            say(f"attempts started ({answers}); waiting for every call to end")
            deadline = time.time() + args.timeout
            calls: list[dict[str, Any]] = []
            while time.time() < deadline:
                calls = (await sandbox.get("/_sandbox/twilio/calls")).json()["calls"]
                if len(calls) >= len(work) and all(c["end_time"] for c in calls):
                    break
                stack.check_alive()
                await asyncio.sleep(1)
            drained = time.time() - started
            cpu_after = stack.cpu_seconds()
            callbacks = (await sandbox.get("/_sandbox/twilio/callbacks")).json()["callbacks"]
    if args.save_calls:
        await asyncio.to_thread(Path(args.save_calls).write_text, json.dumps({"calls": calls, "callbacks": callbacks}))
    turns = [c["elapsed_ms"] for c in callbacks if c["event"] == "gather" and c["elapsed_ms"] is not None]
    by_account: dict[str, list[tuple[float, float]]] = {}
    talk_time = 0.0
    for call in calls:
        begin, end = _ts(call["created_at"]), _ts(call["end_time"])
        if begin is None or end is None:
            continue
        by_account.setdefault(call["account_sid"], []).append((begin, end))
        talk_time += end - begin
    durations = [end - begin for spans in by_account.values() for begin, end in spans]
    mean_call = sum(durations) / len(durations) if durations else float("nan")
    rounds = math.ceil(per_tenant / args.slots)
    ideal = max(per_tenant / args.cps, rounds * mean_call)
    print()
    print(f"call capacity ({len(work)} attempts, {args.tenants} tenants x {args.slots} slots, {args.cps} calls/s)")
    print(f"  API answers               {dict(sorted(answers.items()))}")
    print(f"  calls ended in sandbox    {sum(1 for c in calls if c['end_time'])}/{len(work)}")
    for n, tenant in enumerate(tenants):
        peak = max_overlap(by_account.get(tenant["account_sid"], []))
        print(f"  tenant {n} max concurrent  {peak} (limit {args.slots})")
    print(f"  mean call (placed->end)   {mean_call:.2f} s")
    gaps = [gap * 1000 for spans in by_account.values() for gap in handovers(spans)]
    if gaps:
        print(
            f"  slot handover p50 / p99   {percentile(gaps, 50):.0f} / {percentile(gaps, 99):.0f} ms "
            "(a call's end -> its tenant's next placement)"
        )
    print(f"  drained after             {drained:.1f} s  (ideal {ideal:.1f} s: ratio {drained / ideal:.2f})")
    print(f"  slot utilisation          {talk_time / (args.tenants * args.slots * drained):.2f}")
    if turns:
        print(
            f"  turn answer p50 / p99     {percentile(turns, 50):.0f} / {percentile(turns, 99):.0f} ms "
            f"({len(turns)} turns, webhook in -> TwiML out)"
        )
    ended = sum(1 for c in calls if c["end_time"])
    cpu = cpu_report(cpu_before, cpu_after, seconds=drained, operations=ended, unit="call")
    print(f"  CPU per call              {cpu}")
    print(f"  machine                   {load_before} before, {machine_load()} after")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--attempts", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--call-seconds", type=float, default=3.0)
    parser.add_argument("--cps", type=float, default=5.0, help="each tenant's calls per second")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--save-calls", metavar="FILE", help="write the sandbox's call records here (JSON)")
    add_stack_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.attempts <= 5000 or not 1 <= args.tenants <= 50:
        parser.error("--attempts must be 1..5000 and --tenants 1..50")
    run_and_exit(run(args))


if __name__ == "__main__":
    main()

"""Lead ingest benchmark (issue 2): leads per second through the HTTP API, beside the bare engine in the same run.

    ./run bench lead_ingest [--n 500] [--concurrency 16]

On a throwaway stack (bench/harness.py) it creates a tenant and an API key, then POSTs N leads to /api/v1/leads,
`concurrency` requests at a time. A lead counts once its row is in the database (the API commits it before
answering 201) and its LeadWorkflow has run: its first workflow task completed, read from the workflow's history
(LeadWorkflow writes nothing at start; it only arms the speed-to-lead timer). Leads per second = N / (first POST to
the last lead's first completed workflow task, in Temporal's event time).

Beside it, the bare-engine baseline (bench/baseline.py) runs N one-activity workflows at the same concurrency on the
same server with a worker built like the real one, timed start to completion. Printed: both rates and their ratio
(target >= 0.5 on the 2-core machine). A warm-up of a few leads and baseline workflows runs first (both workers
import their workflow sandboxes on first use). Figures only: nothing here asserts a time.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from bench.baseline import measure_workflows
from bench.harness import (
    BenchStack,
    add_stack_arguments,
    cpu_bound_rate,
    cpu_report,
    machine_load,
    percentile,
    run_and_exit,
    say,
    wall_clock,
)
from bench.tenants import bench_tenant, owner_api_key
from models import Lead
from workflows.ids import lead_workflow_id

AREA_CODES = (415, 212, 310, 646, 617, 303, 206, 512)
WAIT_FOR_WORKFLOWS_SECONDS = 120.0


def phone(i: int) -> str:
    """A valid, distinct US number for the i-th lead of a run (80,000 before they repeat)."""
    return f"+1{AREA_CODES[(i // 10_000) % len(AREA_CODES)]}555{i % 10_000:04d}"


async def create_tenant_with_key(stack: BenchStack) -> tuple[str, str]:
    """A fresh tenant (slug, API key in clear) for the run."""
    assert stack.session_factory is not None
    async with stack.session_factory() as session:
        tenant = await bench_tenant(session, name="Bench", slug=f"bench-{stack.run_id}")
        clear = await owner_api_key(session, tenant)
        await session.commit()
        return tenant.slug, clear


async def post_leads(
    http: httpx.AsyncClient, *, indices: range, concurrency: int
) -> tuple[dict[int, str], list[float], dict[int, int]]:
    """POST one lead per index, `concurrency` at a time: lead ids by index, latencies, counts of each status."""
    pending = list(reversed(indices))
    lead_ids: dict[int, str] = {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def one_by_one() -> None:
        while pending:
            i = pending.pop()
            started = time.perf_counter()
            response = await http.post(
                "/api/v1/leads", json={"phone": phone(i), "name": f"Bench Lead {i}", "source": "bench"}
            )
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 201:
                lead_ids[i] = response.json()["id"]
            elif statuses[response.status_code] == 1:
                say(f"POST /api/v1/leads answered {response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
    return lead_ids, latencies, statuses


async def first_task_completed_at(client: Client, workflow_id: str) -> float | None:
    """When (epoch seconds) the workflow's first workflow task completed (it has run its code); None until then."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError:
        return None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return event.event_time.ToMicroseconds() / 1e6
    return None


async def wait_until_run(client: Client, workflow_ids: list[str], *, within: float) -> dict[str, float]:
    """Each workflow's first completed task as epoch seconds; polls (8 at a time) until all ran or `within` passes."""
    ran: dict[str, float] = {}
    deadline = time.monotonic() + within
    gate = asyncio.Semaphore(8)

    async def check(workflow_id: str) -> None:
        async with gate:
            at = await first_task_completed_at(client, workflow_id)
        if at is not None:
            ran[workflow_id] = at

    while True:
        await asyncio.gather(*(check(w) for w in workflow_ids if w not in ran))
        if len(ran) == len(workflow_ids) or time.monotonic() > deadline:
            return ran
        await asyncio.sleep(0.25)


async def count_rows(stack: BenchStack) -> int:
    """Lead rows the benchmark's POSTs created (the run's database holds only this run's tenant)."""
    assert stack.session_factory is not None
    async with stack.session_factory() as session:
        query = select(func.count()).select_from(Lead).where(Lead.source == "bench")
        return int((await session.execute(query)).scalar_one())


async def run(args: argparse.Namespace) -> int:
    async with BenchStack.from_args(args) as stack:
        assert stack.temporal is not None
        slug, key = await create_tenant_with_key(stack)
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        async with httpx.AsyncClient(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
        ) as http:
            say(f"warm-up: {args.warmup} leads and {args.warmup} baseline workflows")
            warm_ids, _, warm_statuses = await post_leads(http, indices=range(args.warmup), concurrency=4)
            if warm_statuses.get(201, 0) != args.warmup:
                say(f"warm-up leads were not all created ({warm_statuses}); is the leads router registered?")
                return 1
            await wait_until_run(stack.temporal, [lead_workflow_id(slug, lid) for lid in warm_ids.values()], within=60)
            await measure_workflows(stack.temporal, n=args.warmup, concurrency=4, prefix="warmup")

            say(f"baseline: {args.n} one-activity workflows, {args.concurrency} at a time")
            load_baseline, cpu_before, cpu_started = machine_load(), stack.cpu_seconds(), time.monotonic()
            baseline_rate = await measure_workflows(stack.temporal, n=args.n, concurrency=args.concurrency)
            cpu_after = stack.cpu_seconds()
            bound_baseline = cpu_bound_rate(cpu_before, cpu_after, operations=args.n)
            cpu_baseline = cpu_report(
                cpu_before,
                cpu_after,
                seconds=time.monotonic() - cpu_started,
                operations=args.n,
                unit="workflow",
            )
            stack.check_alive()

            say(f"lead ingest: {args.n} leads through POST /api/v1/leads, {args.concurrency} at a time")
            indices = range(args.warmup, args.warmup + args.n)
            stack.start_profiles()  # `--profile`: the lead ingest, not the start-up and baseline
            load_leads, cpu_before, cpu_started = machine_load(), stack.cpu_seconds(), time.monotonic()
            started_at = wall_clock()
            lead_ids, latencies, statuses = await post_leads(http, indices=indices, concurrency=args.concurrency)
            posted_in = wall_clock() - started_at
        workflow_ids = [lead_workflow_id(slug, lid) for lid in lead_ids.values()]
        ran = await wait_until_run(stack.temporal, workflow_ids, within=WAIT_FOR_WORKFLOWS_SECONDS)
        cpu_after = stack.cpu_seconds()
        bound_leads = cpu_bound_rate(cpu_before, cpu_after, operations=args.n)
        cpu_leads = cpu_report(
            cpu_before, cpu_after, seconds=time.monotonic() - cpu_started, operations=args.n, unit="lead"
        )
        load_after = machine_load()
        stack.check_alive()
        rows = await count_rows(stack) - args.warmup

    done = len(ran)
    elapsed = (max(ran.values()) - started_at) if ran else float("nan")
    lead_rate = done / elapsed if ran else 0.0
    ratio = lead_rate / baseline_rate if baseline_rate else float("nan")
    created = statuses.get(201, 0)
    print()
    print(f"lead ingest (N={args.n}, client concurrency {args.concurrency})")
    print(f"  Temporal dev server       SQLite {args.temporal_db}")
    print(f"  HTTP answers              {dict(sorted(statuses.items()))}")
    print(f"  lead rows in the database {rows}/{args.n}")
    print(f"  workflows that ran        {done}/{created}  (first workflow task completed, from history)")
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"  POST latency p50 / p99    {p50:.1f} / {p99:.1f} ms")
    print(f"  POSTs done after          {posted_in:.2f} s  ({created / posted_in:.1f} answers/s)")
    print(f"  all workflows ran after   {elapsed:.2f} s")
    print(f"  leads/s                   {lead_rate:.1f}")
    print(f"  baseline workflows/s      {baseline_rate:.1f}  (one no-op activity, start to completion)")
    print(f"  ratio                     {ratio:.2f}  (target >= 0.5)")
    print(f"  machine                   {load_baseline} at baseline, {load_leads} at leads, {load_after} after")
    print(
        f"  CPU-bound estimate        {bound_leads:.1f} leads/s vs {bound_baseline:.1f} baseline workflows/s "
        f"(ratio {bound_leads / bound_baseline:.2f}) with the {os.cpu_count()} CPUs to the stack alone"
    )
    print(f"  stack during baseline     {cpu_baseline}")
    print(f"  stack during leads        {cpu_leads}")
    return 0 if done == args.n and rows == args.n else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=500, help="leads (and baseline workflows) to create (max 20000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client requests in flight at a time")
    parser.add_argument("--warmup", type=int, default=20, help="leads and baseline workflows run before measuring")
    add_stack_arguments(parser)
    args = parser.parse_args()
    if not 1 <= args.n <= 20_000 or not 1 <= args.concurrency <= 256:
        parser.error("--n must be 1..20000 and --concurrency 1..256 (the benchmark is bounded)")
    run_and_exit(run(args))


if __name__ == "__main__":
    main()

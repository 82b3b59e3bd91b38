"""Sequence fleet benchmark (issue 4): enrollments per second and the worker's memory while the enrollments sleep.

    ./run bench sequence_fleet [--sizes 1000,10000] [--n 10000] [--timeout 900]

On a throwaway stack (bench/harness.py) it creates a tenant and an API key, imports the leads through
POST /api/v1/leads/import (CSV, at most `lead_import_max_rows` rows a file; each lead's LeadWorkflow starts), and
publishes a multi-day sequence: send_whatsapp → wait 2 days → send_whatsapp → wait_for_reply 3 days, default
business hours (Mon-Fri 09:00-18:00 lead-local). Then it enrolls the leads in batches through
POST /api/v1/sequences/{id}/enrollments so that, after each batch, `sizes[i]` enrollments sleep at once.

No WhatsApp message is sent: the harness does not start the provider sandbox, so the enrollments start tomorrow
(`start_at` = now + 1 day; the first step is planned into the next business-hours window) and every SequenceWorkflow
reaches its first durable sleep — a timer before its first send — right after it starts.

An enrollment counts once its workflow has started, told its LeadWorkflow, planned step 1 and mirrored that plan
into its row (revision >= 1): the workflow's next command is the timer. Enrollments per second for a batch = batch
size / (the enroll request sent → the last row's `updated_at`, same machine clock). The request answers 202 at once;
its job's workflow starts them behind it in chunks (`job_chunk_size`), paced (`enrollment_start_concurrency` in
flight, `enrollment_start_per_second`).

Beside it, the bare-engine baseline (bench/baseline.py): one-activity workflows at the API's start concurrency, on the
same server, timed start to completion; printed as a ratio. The worker's RSS (psutil, the worker process and its
children) is sampled every 0.2 s; printed per phase (idle after the import, then after each batch, while all sleep)
with the growth per sleeping enrollment. Figures only: nothing here asserts a time or a size.
"""

import argparse
import asyncio
import contextlib
import inspect
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil
from sqlalchemy import func, select
from temporalio.worker import Worker

from bench.baseline import measure_workflows
from bench.harness import (
    BenchStack,
    add_stack_arguments,
    cpu_report,
    machine_load,
    run_and_exit,
    say,
    wait_until_quiet,
    wall_clock,
)
from bench.lead_ingest import create_tenant_with_key, phone
from models import Enrollment

SEQUENCE = {
    "name": "Bench fleet",
    "steps": [
        {"type": "send_whatsapp", "id": "hello", "text": "Hi {{first_name|there}}, thanks for reaching out!"},
        {"type": "wait", "duration": {"days": 2}},
        {"type": "send_whatsapp", "text": "Still interested, {{first_name}}?"},
        {"type": "wait_for_reply", "timeout": "P3D"},
    ],
}
MAX_N = 20_000
# worker/main.py leaves the SDK's default: beyond this many, sleeping workflows are evicted from the worker's memory.
WORKFLOW_CACHE = inspect.signature(Worker.__init__).parameters["max_cached_workflows"].default
SETTLE_SECONDS = 5.0  # after a batch: let the worker's cache and the RSS settle before reading it


class RssSampler:
    """Samples a process tree's resident memory in the background; `peak()` since the last `mark()`."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.latest = 0
        self._peak = 0
        self._task: asyncio.Task[None] | None = None

    def read(self) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            for part in [self.process, *self.process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += part.memory_info().rss
        return total

    async def _run(self) -> None:
        while True:
            self.latest = await asyncio.to_thread(self.read)
            self._peak = max(self._peak, self.latest)
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def mark(self) -> None:
        self._peak = self.latest

    def peak(self) -> int:
        return self._peak

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


async def import_leads(http: httpx.AsyncClient, *, n: int, chunk: int) -> list[str]:
    """POST the leads as CSV files of at most `chunk` rows; the lead ids in order."""
    ids: list[str] = []
    for start in range(0, n, chunk):
        rows = ["phone,name,source"] + [f"{phone(i)},Bench Lead {i},bench" for i in range(start, min(n, start + chunk))]
        body = ("\n".join(rows) + "\n").encode()
        response = await http.post("/api/v1/leads/import", files={"file": ("leads.csv", body, "text/csv")})
        if response.status_code != 202:
            raise RuntimeError(f"POST /api/v1/leads/import answered {response.status_code}: {response.text[:300]}")
        report = response.json()
        job = await finished_job(http, report["job"])
        if job["failed"]:
            say(f"import: {job['failed']} lead workflows not started")
        ids.extend(str(i) for i in report["lead_ids"])
    return ids


async def finished_job(http: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
    """GET the job of a 202 until its workflows are started (done) or it failed."""
    while True:
        response = await http.get(job["url"])
        if response.status_code != 200:
            raise RuntimeError(f"GET {job['url']} answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        if body["state"] == "failed":
            raise RuntimeError(f"job {job['id']} failed: {body['error']}")
        if body["state"] == "done":
            return body
        await asyncio.sleep(0.5)


async def publish_sequence(http: httpx.AsyncClient) -> str:
    created = await http.post("/api/v1/sequences", json=SEQUENCE)
    if created.status_code != 201:
        raise RuntimeError(f"POST /api/v1/sequences answered {created.status_code}: {created.text[:300]}")
    sequence_id = str(created.json()["id"])
    published = await http.post(f"/api/v1/sequences/{sequence_id}/publish")
    if published.status_code != 200:
        raise RuntimeError(f"publish answered {published.status_code}: {published.text[:300]}")
    return sequence_id


async def sleeping(stack: BenchStack, ids: list[uuid.UUID]) -> tuple[int, datetime | None]:
    """How many of these enrollments mirrored their first plan (revision >= 1), and the last one's write time."""
    assert stack.session_factory is not None
    async with stack.session_factory() as session:
        query = select(func.count(), func.max(Enrollment.updated_at)).where(
            Enrollment.id.in_(ids), Enrollment.revision >= 1
        )
        count, last = (await session.execute(query)).one()
        return int(count), last


async def enroll_batch(
    stack: BenchStack, http: httpx.AsyncClient, *, sequence_id: str, lead_ids: list[str], deadline: float
) -> dict[str, float | int]:
    """Enroll `lead_ids` in one request; wait until each workflow reached its first sleep. The batch's figures."""
    start_at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    stack.start_profiles()  # `--profile`: enrolling and running, not the start-up and import
    cpu_before, cpu_started = stack.cpu_seconds(), time.monotonic()
    sent_at = wall_clock()
    ids: list[uuid.UUID] = []
    per_request = stack.settings.enrollment_max_leads
    for at in range(0, len(lead_ids), per_request):  # one request unless the batch is above the API's limit
        response = await http.post(
            f"/api/v1/sequences/{sequence_id}/enrollments",
            json={"lead_ids": lead_ids[at : at + per_request], "start_at": start_at},
            timeout=max(10.0, deadline - time.monotonic()),
        )
        if response.status_code != 202:
            raise RuntimeError(f"enroll answered {response.status_code}: {response.text[:300]}")
        report = response.json()
        ids.extend(uuid.UUID(i) for i in report["enrollment_ids"])
        if report["skipped"]:
            say(f"enroll: {len(report['skipped'])} skipped")
    answered = wall_clock() - sent_at
    done, last = 0, None
    while time.monotonic() < deadline:
        done, last = await sleeping(stack, ids)
        if done == len(ids):
            break
        stack.check_alive()
        await asyncio.sleep(0.5)
    elapsed = (last.timestamp() - sent_at) if last is not None else float("nan")
    return {
        "enrolled": len(ids),
        "sleeping": done,
        "answered": answered,
        "elapsed": elapsed,
        "rate": done / elapsed if last is not None and elapsed > 0 else 0.0,
        "cpu": cpu_report(  # type: ignore[dict-item]
            cpu_before, stack.cpu_seconds(), seconds=time.monotonic() - cpu_started, operations=len(ids), unit="enr"
        ),
    }


async def run(args: argparse.Namespace, sizes: list[int]) -> int:
    deadline = time.monotonic() + args.timeout
    n = sizes[-1]
    async with BenchStack.from_args(args) as stack:
        assert stack.temporal is not None
        worker_pid = stack.pid_of("worker")
        assert worker_pid is not None
        rss = RssSampler(worker_pid)
        rss.start()
        _, key = await create_tenant_with_key(stack)
        async with httpx.AsyncClient(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=300
        ) as http:
            say(f"importing {n} leads through POST /api/v1/leads/import ({args.import_chunk} rows a file)")
            imported_at = time.monotonic()
            lead_ids = await import_leads(http, n=n, chunk=args.import_chunk)
            import_seconds = time.monotonic() - imported_at
            if len(lead_ids) != n:
                say(f"only {len(lead_ids)} of {n} leads imported")
                return 1
            sequence_id = await publish_sequence(http)
            # The import answers once every LeadWorkflow is started, not run: let the worker work them off first, or
            # the baseline and the first batch are measured beside thousands of queued lead workflow tasks.
            say("waiting for the imported leads' workflows to settle")
            settled_after = await wait_until_quiet(stack, within=max(60.0, deadline - time.monotonic() - 60.0))

            say(f"warm-up: {args.warmup} baseline workflows")
            await measure_workflows(stack.temporal, n=args.warmup, concurrency=4, prefix="warmup")
            concurrency = stack.settings.enrollment_start_concurrency
            baseline_n = min(args.baseline_n, n)
            say(f"baseline: {baseline_n} one-activity workflows, {concurrency} at a time")
            load_baseline, cpu_before, cpu_started = machine_load(), stack.cpu_seconds(), time.monotonic()
            baseline_rate = await measure_workflows(stack.temporal, n=baseline_n, concurrency=concurrency)
            cpu_baseline = cpu_report(
                cpu_before, stack.cpu_seconds(), seconds=time.monotonic() - cpu_started, operations=baseline_n,
                unit="workflow",
            )  # fmt: skip
            stack.check_alive()

            await asyncio.sleep(SETTLE_SECONDS)
            rss.mark()
            await asyncio.sleep(1.0)
            idle_rss = rss.latest
            rows: list[tuple[int, dict[str, float | int], int, int]] = []
            enrolled = 0
            for size in sizes:
                batch = lead_ids[enrolled:size]
                if time.monotonic() > deadline:
                    say(f"--timeout reached before the batch up to {size}")
                    break
                say(f"enrolling {len(batch)} leads (to {size} sleeping enrollments)")
                load = machine_load()
                rss.mark()
                figures = await enroll_batch(stack, http, sequence_id=sequence_id, lead_ids=batch, deadline=deadline)
                figures["load"] = load  # type: ignore[assignment]
                enrolled = size
                await asyncio.sleep(SETTLE_SECONDS)
                rows.append((size, figures, rss.peak(), rss.latest))
                say(f"  {figures['sleeping']}/{len(batch)} sleeping, {figures['rate']:.1f}/s, RSS {mib(rss.latest)}")
                if figures["sleeping"] != len(batch):
                    break
        await rss.stop()
        stack.check_alive()
        load_after = machine_load()

    print()
    print(f"sequence fleet (sizes {','.join(map(str, sizes))}; Temporal SQLite {args.temporal_db})")
    print("  sequence                  send_whatsapp → wait 2 days → send_whatsapp → wait_for_reply 3 days")
    print("  first step                send_whatsapp, start_at tomorrow: each enrollment sleeps (durable timer)")
    print("                            before its first send; the provider sandbox is not started, nothing is sent")
    print(f"  leads imported            {n} via CSV in {import_seconds:.1f} s (their LeadWorkflows started too)")
    print(f"  lead workflows settled    {settled_after:.1f} s after the import (Temporal + worker idle)")
    print(f"  API start pacing          {concurrency} in flight, {stack.settings.enrollment_start_per_second:g}/s max")
    print(f"  baseline workflows/s      {baseline_rate:.1f}  ({baseline_n} one-activity, {concurrency} at once)")
    print(f"  machine at baseline       {load_baseline}")
    print(f"  worker workflow cache     {WORKFLOW_CACHE} workflows (SDK default; lead and sequence workflows share it)")
    print(f"  worker RSS idle           {mib(idle_rss)}  (after the import, before any enrollment)")
    previous_size, previous_rss = 0, idle_rss
    for size, f, peak, settled in rows:
        print(f"  -- batch to {size} sleeping enrollments")
        print(f"     enrolled / sleeping    {f['enrolled']} / {f['sleeping']}")
        print(f"     request answered after {f['answered']:.2f} s")
        print(f"     all asleep after       {f['elapsed']:.2f} s")
        ratio = float(f["rate"]) / baseline_rate if baseline_rate else float("nan")
        print(f"     enrollments/s          {f['rate']:.1f}  (ratio to baseline {ratio:.2f})")
        grown = (settled - previous_rss) / max(1, size - previous_size)
        grown_kib = f"{grown / 1024:+.1f} KiB per added enrollment"
        print(f"     worker RSS             peak {mib(peak)}, settled {mib(settled)}  ({grown_kib})")
        print(f"     machine                {f['load']}")
        print(f"     stack                  {f['cpu']}")
        previous_size, previous_rss = size, settled
    if rows:
        size, _, _, settled = rows[-1]
        total = (settled - idle_rss) / size
        print(
            f"  worker RSS growth overall {mib(settled - idle_rss)} for {size} sleeping ({total / 1024:.1f} KiB each)"
        )
    print(f"  machine after             {load_after}")
    print(f"  stack during baseline     {cpu_baseline}")
    complete = len(rows) == len(sizes) and all(f["sleeping"] == f["enrolled"] for _, f, _, _ in rows)
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="sleeping enrollments after each batch (ascending)")
    parser.add_argument("--n", type=int, default=None, help="the last size (default: the last of --sizes)")
    parser.add_argument("--baseline-n", type=int, default=2000, help="baseline workflows (at most --n)")
    parser.add_argument("--warmup", type=int, default=20, help="baseline workflows run before measuring")
    parser.add_argument("--import-chunk", type=int, default=5000, help="rows per CSV file (the API takes 5000)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run (bounded)")
    add_stack_arguments(parser)
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes numbers separated by commas, e.g. 1000,10000")
    if args.n is not None:
        sizes = [s for s in sizes if s < args.n] + [args.n]
    if not sizes or sizes != sorted(set(sizes)) or not 1 <= sizes[0] <= sizes[-1] <= MAX_N:
        parser.error(f"--sizes must ascend within 1..{MAX_N} (the benchmark is bounded)")
    if not 10 <= args.timeout <= 3600:
        parser.error("--timeout must be 10..3600 seconds")
    run_and_exit(asyncio.wait_for(run(args, sizes), timeout=args.timeout + 60))


if __name__ == "__main__":
    main()

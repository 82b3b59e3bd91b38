"""CRM read-path benchmark: the list and detail endpoints the web app reads all day, beside a bare FastAPI +
psycopg read of the same rows, under the same open-loop load; then the built app's first inbox render in Chromium.

    ./run bench crm_read [--leads 10000] [--conversations 1000] [--rate 200] [--duration 10] [--auth key|session]
                         [--renders 5]

On a throwaway stack (bench/harness.py) it seeds one tenant with `leads` leads and `conversations` WhatsApp
conversations (one message each), straight into the database. A SECOND PROCESS (this file with `--drive`) then sends
GETs at `rate` per second for `duration` seconds, open loop (request i at start + i/rate whatever the answers do), to
each target in turn:
- bare `GET /leads` on `bench/crm_read_bare.py` (FastAPI + psycopg, no auth, no ORM): the floor of the round trip;
- `GET /api/v1/leads?limit=50` (the lead list), `?q=` (its search, a different term each request),
  `GET /api/v1/conversations?limit=50` (the inbox) and `GET /api/v1/leads/{id}` (a lead page, a different lead each
  request), authenticated as the web app is (`--auth session`: the login cookie) or as an integration (`key`).

Reported per target: answers (and non-200s), latency p50 / p90 / p99 / max as the driver saw it, p99 over the bare
p99 (the ratio), and the CPU per request of the API and of PostgreSQL. Then, with `--renders N`: the built app's
JavaScript size gzipped, and N first renders of the inbox in Chromium (/usr/bin/chromium, through Playwright, never
downloaded), each in a fresh browser context (empty cache, the session's cookie): the page's own performance timing
from navigation start to the first conversation on screen, beside first contentful paint and DOMContentLoaded.
Figures only: nothing here asserts a time. Bounded: at most 1000/s for 60 s per target; the driver stops by itself.
"""

import argparse
import asyncio
import gzip
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert, text

from bench.harness import (
    BenchStack,
    add_stack_arguments,
    driver_main,
    driver_report,
    free_port,
    machine_load,
    percentile,
    run_and_exit,
    run_driver_process,
    say,
    wait_until_quiet,
)
from bench.tenants import OWNER_PASSWORD, bench_tenant, owner_api_key, owner_email
from bench.webhook_inbound import LoopbackHttp
from devstack.processes import answers_ok
from models import Conversation, Lead, Message

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
REQUEST_TIMEOUT_SECONDS = 10.0
DRIVER_GRACE_SECONDS = 15.0
SEED_CHUNK = 2000


# -- the driver (second process) ---------------------------------------------------------------------------------


def get_bytes(host: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """GET each of `paths` in turn on the schedule; each request's latency and status."""
    rate, count, paths = float(spec["rate"]), int(spec["count"]), spec["paths"]
    http = LoopbackHttp(spec["url"])
    host = f"{http.host}:{http.port}"
    requests = [get_bytes(host, paths[i % len(paths)], spec["headers"]) for i in range(count)]
    results: list[tuple[float, int | str]] = []

    async def send(request: bytes) -> None:
        started = time.perf_counter()
        status: int | str
        try:
            status = await http.send(request, within_seconds=REQUEST_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            status = f"error: {type(exc).__name__}"
        results.append((time.perf_counter() - started, status))

    tasks = []
    start = time.perf_counter() + 0.2
    for i, request in enumerate(requests):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(request)))
    sending_took = time.perf_counter() - start
    report = await driver_report(tasks, results, sending_took=sending_took, grace=DRIVER_GRACE_SECONDS)
    http.close()
    return report


async def run_driver(stack: BenchStack, spec: dict[str, Any]) -> dict[str, Any]:
    """The driver as a separate process (its own session; killed if it outlives its schedule by far)."""
    return await run_driver_process(
        __file__,
        spec,
        spec_path=stack.dir / "crm-driver-spec.json",
        out_path=stack.dir / "crm-driver-out.json",
        bound=spec["count"] / spec["rate"] + DRIVER_GRACE_SECONDS + 30,
        name="read",
    )


# -- the data -----------------------------------------------------------------------------------------------------


async def seed(stack: BenchStack, *, leads: int, conversations: int) -> tuple[uuid.UUID, str, list[str]]:
    """A tenant with `leads` leads (newest first by creation) and `conversations` conversations; its id, an admin
    API key and the lead ids."""
    assert stack.session_factory is not None
    slug = f"crm-read-{stack.run_id}"
    async with stack.session_factory() as session:
        tenant = await bench_tenant(session, name="CRM read bench", slug=slug)
        key = await owner_api_key(session, tenant)
        tenant_id = tenant.id
        await session.commit()
    now = datetime.now(UTC)
    lead_ids = [uuid.uuid4() for _ in range(leads)]
    async with stack.session_factory() as session, session.begin():
        for begin in range(0, leads, SEED_CHUNK):
            rows = [
                {
                    "id": lead_ids[i],
                    "tenant_id": tenant_id,
                    "phone": f"+1415{5000000 + i:07d}",
                    "name": f"Bench Lead {i}",
                    "source": "bench",
                    "status_key": "new",
                    "stage": "new",
                    "timezone": "America/Los_Angeles",
                    "custom_fields": {"budget": i % 7 * 100_000},
                    "created_at": now - timedelta(seconds=leads - i),
                }
                for i in range(begin, min(leads, begin + SEED_CHUNK))
            ]
            await session.execute(insert(Lead), rows)
        conversation_ids = [uuid.uuid4() for _ in range(conversations)]
        at = [now - timedelta(seconds=10 * (conversations - i)) for i in range(conversations)]
        await session.execute(
            insert(Conversation),
            [
                {
                    "id": conversation_ids[i],
                    "tenant_id": tenant_id,
                    "lead_id": lead_ids[i],
                    "channel": "whatsapp",
                    "last_message_at": at[i],
                    "last_inbound_at": at[i],
                    "last_message_preview": f"Is the flat still free? ({i})",
                    "unread_count": i % 3,
                }
                for i in range(conversations)
            ],
        )
        await session.execute(
            insert(Message),
            [
                {
                    "tenant_id": tenant_id,
                    "conversation_id": conversation_ids[i],
                    "lead_id": lead_ids[i],
                    "direction": "inbound",
                    "kind": "text",
                    "body": f"Is the flat still free? ({i})",
                    "provider": "sandbox",
                    "provider_message_id": f"wamid.crm-read-{i}",
                    "status": "received",
                    "occurred_at": at[i],
                }
                for i in range(conversations)
            ],
        )
    # What autovacuum does within a minute of a bulk insert: without table statistics the planner takes the 10,000
    # fresh rows for a few and reads the whole table for a search instead of its trigram indexes.
    async with stack.session_factory() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await connection.execute(text("ANALYZE lead, conversation, message"))
    return tenant_id, key, [str(lead_id) for lead_id in lead_ids]


async def auth_headers(stack: BenchStack, *, auth: str, key: str, slug_email: str) -> dict[str, str]:
    if auth == "key":
        return {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.api_url) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": slug_email, "password": OWNER_PASSWORD})
        answer.raise_for_status()
        return {"Cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items())}


# -- the measurements -------------------------------------------------------------------------------------------


async def measure(
    stack: BenchStack, *, name: str, url: str, paths: list[str], headers: dict[str, str], rate: float, count: int
) -> dict[str, Any]:
    stack.start_profiles()  # `--profile`: the reads (a second start of a started profile changes nothing)
    before, began = stack.cpu_seconds(), time.monotonic()
    load = machine_load()
    out = await run_driver(stack, {"url": url, "paths": paths, "headers": headers, "rate": rate, "count": count})
    after, seconds = stack.cpu_seconds(), time.monotonic() - began
    latencies = [latency for latency, status in out["results"] if status == 200]
    others: dict[str, int] = {}
    for _, status in out["results"]:
        if status != 200:
            others[str(status)] = others.get(str(status), 0) + 1
    # A PostgreSQL backend that ended during the phase takes its CPU with it: a negative difference is unknown.
    cpu = {
        n: (used * 1000 / max(1, len(out["results"])) if (used := after[n] - before.get(n, 0.0)) >= 0 else float("nan"))
        for n in after
    }
    stack.check_alive()
    return {
        "name": name,
        "sent": count,
        "ok": len(latencies),
        "others": others,
        "unanswered": out["unanswered"],
        "p50": percentile(latencies, 50) * 1000,
        "p90": percentile(latencies, 90) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "max": max(latencies, default=float("nan")) * 1000,
        "rate": count / max(out["sending_took"], 1e-9),
        "cpu_api": cpu.get("api", float("nan")),
        "cpu_bare": cpu.get("bare-api", float("nan")),
        "cpu_postgres": cpu.get("postgres", float("nan")),
        "seconds": seconds,
        "load": load,
    }


def bundle_gzip_kib() -> tuple[float, float]:
    """The built app's JavaScript: raw and gzipped KiB (level 9, as a server would send it)."""
    raw = zipped = 0
    for path in (ROOT / "web" / "dist" / "assets").glob("*.js"):
        data = path.read_bytes()
        raw += len(data)
        zipped += len(gzip.compress(data, compresslevel=9))
    return raw / 1024, zipped / 1024


async def first_renders(api_url: str, *, email: str, renders: int) -> list[dict[str, float]]:
    """`renders` first loads of /inbox, each in a fresh context (empty cache) with the logged-in session's cookie."""
    from playwright.async_api import async_playwright

    timings: list[dict[str, float]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        login = await browser.new_context(base_url=api_url)
        page = await login.new_page()
        await page.goto("/login?next=/inbox")
        await page.get_by_label("E-mail").fill(email)
        await page.get_by_label("Password").fill(OWNER_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_test_id("conversation").first.wait_for(timeout=30_000)
        state = await login.storage_state()
        await login.close()
        for _ in range(renders):
            context = await browser.new_context(base_url=api_url, storage_state=state)
            page = await context.new_page()
            await page.goto("/inbox", wait_until="commit")
            await page.get_by_test_id("conversation").first.wait_for(timeout=30_000)
            shown = await page.evaluate("performance.now()")
            marks = await page.evaluate(
                """() => {
                  const nav = performance.getEntriesByType('navigation')[0];
                  const paint = performance.getEntriesByName('first-contentful-paint')[0];
                  return {dcl: nav ? nav.domContentLoadedEventEnd : NaN, fcp: paint ? paint.startTime : NaN};
                }"""
            )
            timings.append({"inbox": float(shown), "fcp": float(marks["fcp"]), "dcl": float(marks["dcl"])})
            await context.close()
        await browser.close()
    return timings


# -- the run -------------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    if args.renders:
        sys.path.insert(0, str(ROOT / "scripts"))
        from build_web import ensure_built

        say("building the web app when a source changed")
        ensure_built(quiet=True)
    async with BenchStack.from_args(args) as stack:
        say(f"seeding {args.leads} leads and {args.conversations} conversations in one tenant")
        tenant_id, key, lead_ids = await seed(stack, leads=args.leads, conversations=args.conversations)
        email = owner_email(f"crm-read-{stack.run_id}")
        headers = await auth_headers(stack, auth=args.auth, key=key, slug_email=email)

        bare_port = free_port()
        bare = stack.python_child(
            "bare-api",
            "-m", "uvicorn", "bench.crm_read_bare:app",
            "--host", "127.0.0.1", "--port", str(bare_port), "--log-level", "warning",
        )  # fmt: skip
        bare_url = f"http://127.0.0.1:{bare_port}"
        await answers_ok("the bare API", f"{bare_url}/leads?tenant_id={tenant_id}", child=bare, within=60)

        rng = random.Random(7)
        sample = rng.sample(lead_ids, min(len(lead_ids), 500))
        searches = [f"/api/v1/leads?limit=50&q=Lead%20{rng.randrange(args.leads)}" for _ in range(200)]
        targets = [
            ("bare FastAPI + psycopg", bare_url, [f"/leads?tenant_id={tenant_id}&limit=50"], {}),
            ("GET /leads?limit=50", stack.api_url, ["/api/v1/leads?limit=50"], headers),
            ("GET /leads?q=…", stack.api_url, searches, headers),
            ("GET /conversations", stack.api_url, ["/api/v1/conversations?limit=50"], headers),
            ("GET /leads/{id}", stack.api_url, [f"/api/v1/leads/{lead}" for lead in sample], headers),
        ]  # fmt: skip
        say(f"warm-up: {args.warmup} requests per target")
        for _, url, paths, target_headers in targets:
            await measure(
                stack, name="warm-up", url=url, paths=paths, headers=target_headers, rate=50, count=args.warmup
            )

        count = int(args.rate * args.duration)
        results = []
        for name, url, paths, target_headers in targets:
            # A target starts on an idle API: the backlog of an overloaded one must not land on the next.
            await wait_until_quiet(stack, names=("api", "bare-api", "postgres"), cores=0.1, within=60)
            say(f"{name}: {count} GETs at {args.rate:.0f}/s")
            results.append(
                await measure(
                    stack, name=name, url=url, paths=paths, headers=target_headers, rate=args.rate, count=count
                )
            )
        renders = await first_renders(stack.api_url, email=email, renders=args.renders) if args.renders else []

    bare_p99 = results[0]["p99"]
    print()
    print(
        f"CRM read path ({args.leads} leads, {args.conversations} conversations, one tenant; {args.rate:.0f} GET/s "
        f"x {args.duration:.0f} s per target from a second process; auth: {args.auth}; API workers {args.api_workers})"
    )
    print(f"  {'target':<26}{'ok/sent':>12}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}{'p99/bare':>10}{'API ms/req':>12}"
          f"{'PG ms/req':>11}  load")  # fmt: skip
    for r in results:
        cpu = r["cpu_bare"] if r["name"].startswith("bare") else r["cpu_api"]
        print(
            f"  {r['name']:<26}{str(r['ok']) + '/' + str(r['sent']):>12}{r['p50']:>9.1f}{r['p90']:>9.1f}"
            f"{r['p99']:>9.1f}{r['max']:>9.1f}{r['p99'] / bare_p99:>10.1f}{cpu:>12.2f}{r['cpu_postgres']:>11.2f}"
            f"  {r['load']}"
        )
        if r["others"] or r["unanswered"]:
            print(f"  {'':<26}not 200: {r['others']}, unanswered: {r['unanswered']}")
    print("  (latencies in ms, as the driver saw them; targets: p99 < 50 ms for the API's reads)")
    if renders:
        raw, zipped = bundle_gzip_kib()
        inbox = sorted(t["inbox"] for t in renders)
        print()
        print(f"web app: JavaScript {raw:.0f} KiB, {zipped:.1f} KiB gzipped (target < 300 KB)")
        print(
            f"first inbox render in Chromium, {len(renders)} fresh contexts (empty cache, loopback): "
            f"median {percentile(inbox, 50):.0f} ms, max {inbox[-1]:.0f} ms from navigation start to the first "
            f"conversation (target < 1 s); first contentful paint median "
            f"{percentile([t['fcp'] for t in renders], 50):.0f} ms, DOMContentLoaded median "
            f"{percentile([t['dcl'] for t in renders], 50):.0f} ms; {machine_load()}"
        )
    failed = any(r["ok"] < r["sent"] for r in results)
    return 1 if failed else 0


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--drive":
        driver_main(drive, sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=10_000, help="leads in the tenant (max 100000)")
    parser.add_argument("--conversations", type=int, default=1_000, help="conversations (at most --leads)")
    parser.add_argument("--rate", type=float, default=200.0, help="GETs per second per target (max 1000)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target (max 60)")
    parser.add_argument("--warmup", type=int, default=100, help="requests per target before measuring")
    parser.add_argument("--auth", choices=["session", "key"], default="session", help="cookie session or API key")
    parser.add_argument("--renders", type=int, default=5, help="first inbox renders in Chromium (0: none)")
    add_stack_arguments(parser)
    args = parser.parse_args()
    if not (0 < args.rate <= 1000 and 0 < args.duration <= 60 and 1 <= args.leads <= 100_000):
        parser.error("--rate must be in (0, 1000], --duration in (0, 60] and --leads in 1..100000 (bounded)")
    if not 0 <= args.conversations <= args.leads:
        parser.error("--conversations must be between 0 and --leads")
    run_and_exit(run(args))


if __name__ == "__main__":
    main()

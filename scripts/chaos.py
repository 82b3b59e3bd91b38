"""`./run chaos`: the fault suite. Sends in flight while the worker is SIGKILLed and Temporal and PostgreSQL restart.

    ./run chaos [--enrollments 200] [--worker-kills 20] [--temporal-restarts 3] [--postgres-restarts 3]
                [--postgres-crashes 2] [--hold 3] [--fault-window 240] [--settle 600] [--uncapped]

A private stack on loopback, under one temporary directory, torn down at the end whatever happens:
- its own PostgreSQL cluster (the dev stack's `PrivatePostgres`: `initdb` into the temporary directory, run as the
  unprivileged `postgres` account, 127.0.0.1 on a free port, no Unix socket);
- its own Temporal dev server (`DevTemporal`) with its state in a SQLite *file*, so a restart keeps every workflow;
- the provider sandbox, the worker, the webhook dispatcher and the API (`python -m ...`), configured by LEADFLOW_*;
- Redis is the machine's own, under a prefix unique to the run (its keys are deleted at the end).
The machine's own PostgreSQL and Temporal are never touched.

The work: one tenant with a sandbox WhatsApp account, `--enrollments` leads (CSV import) enrolled in `--waves`
batches spread over the fault window, in a sequence of three template sends 20 s apart (business hours all week, a
daily cap so each send takes a slot; with `--uncapped`, no cap: each send is counted in the tenant's day after it went
out, by the drain without waiting for the WAL flush, and again by the enrollment when a crash lost that count). The
sandbox holds each send's answer `--hold` seconds (fault `slow_accept`: the message is recorded and its status webhooks
go out at once, only the HTTP answer is late), so a kill or a restart lands while sends are in flight.

The faults, spread evenly over `--fault-window` seconds (each waits a little, if it must, for a send in flight):
SIGKILL of the worker's process group (restarted at once), Temporal dev server stop/start, PostgreSQL stop
(`pg_ctl -m fast`)/start, and PostgreSQL crashed (SIGKILL of all its processes: commits that did not wait for the
WAL flush, a drain's claims, are lost) and started again (crash recovery). A fault "hit a send in flight" when the
sandbox had accepted a send whose answer was still held at that moment.

Then it waits (at most `--settle` seconds) for every enrollment to end and counts, from the sandbox's record of what
it received and the database:
- duplicate sends: the same enrollment step (lead + template) received more than once;
- lost steps: steps of ended enrollments never received;
- stuck enrollments: not ended when the settle time ran out;
- leaked slots: daily-cap slots taken beyond the sends received, and recipient pacing slots still held by a send;
  with `--uncapped`, the tenant's daily count must equal the sends received, neither more nor less (`miscounted`).
Target 0 / 0 / 0 / 0. Exit status 0 when met, 1 otherwise, 2 when the stack did not come up.
"""

import argparse
import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.services.api_keys import create_api_key
from api.services.tenants import create_tenant
from bench.harness import exit_now, free_port, machine_load, say
from bench.sequence_fleet import import_leads
from core.config import Settings
from core.db import create_engine, create_session_factory
from core.queues import LEADS_QUEUE
from devstack import seed
from devstack.postgres import PrivatePostgres
from devstack.processes import Child, answers_ok, stop_quietly
from devstack.redis import delete_prefixed_keys
from devstack.temporal import DevTemporal, wait_for_pollers
from domain.permissions import Role
from models import DailySendCount, Enrollment, Lead, User
from workflow_clients.jobs import ensure_sweep_schedule

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0
STEPS = ("chaos_step_1", "chaos_step_2", "chaos_step_3")
ENDED = ("completed", "exited", "stopped")
RECIPIENT_INTERVAL_MS = 1000


def sequence_body(*, capped: bool = True) -> dict[str, Any]:
    send = [{"type": "send_whatsapp", "id": f"s{i + 1}", "template": {"name": name}} for i, name in enumerate(STEPS)]
    wait = {"type": "wait", "duration": {"seconds": 20}}
    return {
        "name": f"Chaos {uuid.uuid4().hex[:6]}",
        "steps": [send[0], wait, send[1], dict(wait), send[2]],
        "settings": {
            "business_hours": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "23:59",
            },
            **({"daily_cap": {"whatsapp": 1_000_000}} if capped else {}),
        },
    }


@dataclass
class Fault:
    kind: str  # worker | temporal | postgres | postgres-crash
    at: float  # wall clock when it struck
    seconds: float = 0.0  # until the service answered again


@dataclass
class ChaosStack:
    args: argparse.Namespace
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="leadflow-chaos-")))
    children: list[Child] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker[AsyncSession] | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        self.dir.chmod(0o755)  # the postgres account reaches its cluster below it
        self.redis_url = Settings().test_redis_url
        self.redis_prefix = f"leadflow-chaos-{self.run_id}"
        self.api_port, self.sandbox_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.postgres = PrivatePostgres(self.dir, free_port())
        self.temporal = DevTemporal(
            self.dir, address=f"127.0.0.1:{free_port()}", namespace="default", ui_port=free_port()
        )
        self.worker: Child | None = None

    # -- life --------------------------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "LEADFLOW_ENV": "dev",
            "LEADFLOW_LOG_LEVEL": "WARNING",
            "LEADFLOW_DATABASE_URL": self.postgres.url,
            "LEADFLOW_REDIS_URL": self.redis_url,
            "LEADFLOW_REDIS_PREFIX": self.redis_prefix,
            "LEADFLOW_TEMPORAL_ADDRESS": self.temporal.address,
            "LEADFLOW_TEMPORAL_NAMESPACE": "default",
            "LEADFLOW_API_HOST": "127.0.0.1",
            "LEADFLOW_API_PORT": str(self.api_port),
            "LEADFLOW_PUBLIC_BASE_URL": self.api_url,
            "LEADFLOW_SANDBOX_HOST": "127.0.0.1",
            "LEADFLOW_SANDBOX_PORT": str(self.sandbox_port),
            "LEADFLOW_SANDBOX_BASE_URL": self.sandbox_url,
            "LEADFLOW_WHATSAPP_SANDBOX_CLOUD_WEBHOOK_URL": f"{self.api_url}/webhooks/whatsapp/cloud",
            "LEADFLOW_WHATSAPP_RECIPIENT_MIN_INTERVAL_SECONDS": str(RECIPIENT_INTERVAL_MS / 1000),
            "LEADFLOW_DEV_STATE_DIR": str(self.dir),
        }

    def settings(self) -> Settings:
        return Settings(
            env="dev",
            database_url=self.postgres.url,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            temporal_address=self.temporal.address,
            sandbox_base_url=self.sandbox_url,
        )

    def python_child(self, name: str, *args: str) -> Child:
        child = Child.python(self.dir, name, *args)
        child.start()
        self.children.append(child)
        return child

    async def start(self) -> None:
        say(f"private stack in {self.dir}")
        say(f"PostgreSQL cluster on 127.0.0.1:{self.postgres.port} ({self.postgres.launcher.description})")
        self.postgres.start()
        self.children.append(self.postgres.child)
        say(f"Temporal dev server on {self.temporal.address} (SQLite file {self.temporal.dir / 'temporal.db'})")
        self.temporal.start()
        self.children.append(self.temporal.child)
        await asyncio.to_thread(self.postgres.wait_ready, READY_TIMEOUT)
        client = await self.temporal.connect(READY_TIMEOUT)
        settings = self.settings()
        say("migrating the database; the sweeper's schedule")
        await seed.bootstrap(settings)
        # As in production: the sweeper starts enrollments whose start was lost (an answer 503 after the commit).
        await ensure_sweep_schedule(client, every=timedelta(seconds=settings.job_sweep_interval_seconds))
        os.environ.update(self.env())
        say("starting the sandbox, worker, dispatcher and API")
        sandbox = self.python_child("sandbox", "-m", "sandbox")
        self.worker = self.python_child("worker", "-m", "worker")
        dispatcher = self.python_child("dispatcher", "-m", "dispatcher")
        api = self.python_child(
            "api", "-m", "api", "--host", "127.0.0.1", "--port", str(self.api_port), "--no-proxy-headers"
        )
        await asyncio.gather(
            answers_ok(
                "the sandbox",
                f"{self.sandbox_url}/_sandbox/health",
                child=sandbox,
                within=READY_TIMEOUT,
                request_timeout=2,
            ),
            wait_for_pollers(client, LEADS_QUEUE, namespace="default", child=self.worker, within=READY_TIMEOUT),
            answers_ok("the API (/readyz)", f"{self.api_url}/readyz", child=api, within=READY_TIMEOUT),
        )
        dispatcher.check_alive()
        self.engine = create_engine(settings)
        self.sessions = create_session_factory(self.engine)

    def close(self) -> None:
        """Stop every child (reverse start order), delete the run's Redis keys and the directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        stop_quietly(self.children)
        delete_prefixed_keys(self.redis_url, self.redis_prefix)
        if self.args.keep:
            say(f"kept {self.dir} (logs in {self.dir / 'logs'})")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def check_alive(self) -> None:
        for child in self.children:
            child.check_alive()

    # -- faults ------------------------------------------------------------------------------------------------------

    async def kill_worker(self) -> None:
        assert self.worker is not None and self.worker.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.worker.process.wait)
        self.worker.start()  # at once, as a supervisor would; it polls again once it has imported

    async def restart_temporal(self) -> None:
        await asyncio.to_thread(self.temporal.child.stop)
        self.temporal.start()
        await self.temporal.connect(READY_TIMEOUT)

    async def restart_postgres(self) -> None:
        await asyncio.to_thread(self.postgres.child.stop)
        await self._start_postgres()

    async def crash_postgres(self) -> None:
        """Every PostgreSQL process killed at once: what sat in its WAL buffers (commits that did not wait for the
        flush) is gone, and the next start replays the WAL."""
        await asyncio.to_thread(self.postgres.child.kill)
        await self._start_postgres()

    async def _start_postgres(self) -> None:
        self.postgres.start()
        await asyncio.to_thread(self.postgres.wait_ready, READY_TIMEOUT)


def schedule(args: argparse.Namespace) -> list[str]:
    """The faults in order: the restarts (Temporal and PostgreSQL alternating) spread evenly among the worker kills."""
    restarts: list[str] = []
    for n in range(max(args.temporal_restarts, args.postgres_restarts, args.postgres_crashes)):
        restarts += ["temporal"] if n < args.temporal_restarts else []
        restarts += ["postgres"] if n < args.postgres_restarts else []
        restarts += ["postgres-crash"] if n < args.postgres_crashes else []
    kinds = ["worker"] * args.worker_kills
    total = len(kinds) + len(restarts)
    for n, kind in enumerate(restarts):
        kinds.insert(round((n + 1) * total / (len(restarts) + 1)) - 1, kind)
    return kinds


async def prepare(
    stack: ChaosStack, http: httpx.AsyncClient, n: int, *, capped: bool = True
) -> tuple[str, str, list[str]]:
    """A tenant with a sandbox WhatsApp account, an admin key, `n` leads; the sequence id, the key, the lead ids."""
    assert stack.sessions is not None
    async with stack.sessions() as session:
        tenant = await create_tenant(
            session,
            name="Chaos",
            slug=f"chaos-{stack.run_id}",
            owner_email=f"owner-{stack.run_id}@chaos.test",
            owner_password="chaos-password-123",
        )
        owner = (await session.execute(select(User).where(User.tenant_id == tenant.id))).scalar_one()
        _, key = await create_api_key(
            session, tenant_id=tenant.id, name="chaos", role="admin", creator_role=Role.OWNER, created_by_id=owner.id
        )
        await session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    phone_number_id = str(uuid.uuid4().int % 10**15).zfill(15)
    token = f"token-{stack.run_id}"
    answer = await http.put(
        "/api/v1/whatsapp/account",
        json={"provider": "sandbox", "phone_number_id": phone_number_id, "access_token": token, "app_secret": "s"},
        headers=headers,
    )
    answer.raise_for_status()
    webhook_url = f"{stack.api_url}/webhooks/whatsapp/cloud"
    registered = await http.post(
        f"{stack.sandbox_url}/_sandbox/accounts/cloud",
        json={"phone_number_id": phone_number_id, "access_token": token, "app_secret": "s", "webhook_url": webhook_url},
    )
    registered.raise_for_status()
    http.headers.update(headers)
    lead_ids = await import_leads(http, n=n, chunk=5000)
    created = await http.post("/api/v1/sequences", json=sequence_body(capped=capped))
    if created.status_code != 201:
        raise RuntimeError(f"POST /api/v1/sequences answered {created.status_code}: {created.text[:300]}")
    sequence_id = str(created.json()["id"])
    (await http.post(f"/api/v1/sequences/{sequence_id}/publish")).raise_for_status()
    return sequence_id, key, lead_ids


async def aim(http: httpx.AsyncClient, sandbox_url: str, *, hold: float, within: float) -> None:
    """Wait (at most `within` seconds) until the sandbox holds the answer of some send, so the fault lands on it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            messages = (await http.get(f"{sandbox_url}/_sandbox/messages")).json()["messages"]
            if messages and time.time() - datetime.fromisoformat(messages[-1]["accepted_at"]).timestamp() < hold - 0.5:
                return
        await asyncio.sleep(0.2)


async def enroll_in_waves(
    http: httpx.AsyncClient, sequence_id: str, lead_ids: list[str], waves: int, window: float
) -> None:
    """Enroll the leads in `waves` batches spread over `window` seconds, so sends are in flight all along. A batch
    refused during an outage (503) is asked again; leads an earlier answer enrolled are skipped by the API."""
    size = -(-len(lead_ids) // waves)
    began = time.monotonic()
    for n in range(waves):
        await asyncio.sleep(max(0.0, began + n * window / waves - time.monotonic()))
        batch = lead_ids[n * size : (n + 1) * size]
        while batch:
            try:
                answer = await http.post(f"/api/v1/sequences/{sequence_id}/enrollments", json={"lead_ids": batch})
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 202:
                break
            await asyncio.sleep(1)


async def enrollments_of(stack: ChaosStack, sequence_id: str) -> list[uuid.UUID]:
    assert stack.sessions is not None
    while True:
        try:
            async with stack.sessions() as session:
                rows = await session.scalars(
                    select(Enrollment.id).where(Enrollment.sequence_id == uuid.UUID(sequence_id))
                )
                return list(rows.all())
        except Exception:  # PostgreSQL restarting
            await asyncio.sleep(1)


async def enrollment_states(stack: ChaosStack, ids: list[uuid.UUID]) -> Counter[str]:
    assert stack.sessions is not None
    async with stack.sessions() as session:
        rows = await session.execute(
            select(Enrollment.status, func.count()).where(Enrollment.id.in_(ids)).group_by(Enrollment.status)
        )
        return Counter({status: int(n) for status, n in rows.all()})


async def run(args: argparse.Namespace) -> int:
    stack = ChaosStack(args)
    atexit.register(stack.close)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stack.close()
        exit_now(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    began = time.monotonic()
    try:
        try:
            await stack.start()
        except Exception as exc:
            say(f"the stack did not come up: {exc}")
            return 2
        load_start = machine_load()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http:
            sequence_id, _, lead_ids = await prepare(stack, http, args.enrollments, capped=not args.uncapped)
            hold = {"kind": "slow_accept", "count": 1_000_000, "delay_seconds": args.hold}
            (await http.post(f"{stack.sandbox_url}/_sandbox/faults", json=hold)).raise_for_status()
            waves = max(1, min(args.waves, len(lead_ids)))
            say(
                f"enrolling {len(lead_ids)} leads in {waves} waves over the fault window; the sandbox holds every "
                f"send's answer {args.hold:g} s"
            )
            enrolling = asyncio.create_task(enroll_in_waves(http, sequence_id, lead_ids, waves, args.fault_window))
            kinds = schedule(args)
            gap = args.fault_window / (len(kinds) + 1)
            say(f"{len(kinds)} faults over {args.fault_window:g} s, one every {gap:.1f} s")
            faults: list[Fault] = []
            window_start = time.monotonic()
            for n, kind in enumerate(kinds):
                await asyncio.sleep(max(0.0, window_start + (n + 1) * gap - time.monotonic()))
                await aim(http, stack.sandbox_url, hold=args.hold, within=gap * 0.8)
                fault = Fault(kind=kind, at=time.time())
                started = time.monotonic()
                await {
                    "worker": stack.kill_worker,
                    "temporal": stack.restart_temporal,
                    "postgres": stack.restart_postgres,
                    "postgres-crash": stack.crash_postgres,
                }[kind]()
                fault.seconds = time.monotonic() - started
                faults.append(fault)
                say(f"  fault {n + 1}/{len(kinds)}: {kind} ({fault.seconds:.1f} s)")
            await enrolling
            enrollment_ids = await enrollments_of(stack, sequence_id)
            say(f"faults done; waiting up to {args.settle:g} s for the {len(enrollment_ids)} enrollments to end")
            settle_deadline = time.monotonic() + args.settle
            states: Counter[str] = Counter()
            while time.monotonic() < settle_deadline:
                states = await enrollment_states(stack, enrollment_ids)
                if sum(states[s] for s in ENDED) == len(enrollment_ids):
                    break
                stack.check_alive()
                await asyncio.sleep(2)
            settled_after = time.monotonic() - window_start
            messages = (await http.get(f"{stack.sandbox_url}/_sandbox/messages")).json()["messages"]
            # A finished send leaves its recipient slot for one interval (1 s here); a slot still held longer is a
            # send's in-flight lease that nobody released.
            leaked_pacing = 0
            redis = Redis.from_url(stack.redis_url)
            try:
                for key in redis.scan_iter(match=f"{stack.redis_prefix}:wa:pace:to:*"):
                    leaked_pacing += int(redis.pttl(key) > RECIPIENT_INTERVAL_MS + 500)
            finally:
                redis.close()
            assert stack.sessions is not None
            async with stack.sessions() as session:
                counted = int(await session.scalar(select(func.coalesce(func.sum(DailySendCount.sent), 0))) or 0)
                lead_of = dict(
                    (
                        await session.execute(
                            select(Enrollment.id, Enrollment.lead_id).where(Enrollment.id.in_(enrollment_ids))
                        )
                    ).all()
                )
                status_of = dict(
                    (
                        await session.execute(
                            select(Enrollment.id, Enrollment.status).where(Enrollment.id.in_(enrollment_ids))
                        )
                    ).all()
                )
                phone_of = dict(
                    (
                        await session.execute(select(Lead.id, Lead.phone).where(Lead.id.in_(list(lead_of.values()))))
                    ).all()
                )
        load_end = machine_load()
    finally:
        if stack.engine is not None:
            await stack.engine.dispose()
        stack.close()

    received = Counter((m["to"], (m.get("template") or {}).get("name")) for m in messages)
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    lost = 0
    for enrollment_id, lead_id in lead_of.items():
        if status_of[enrollment_id] not in ENDED:
            continue
        lost += sum(1 for step in STEPS if received[(phone_of[lead_id], step)] == 0)
    stuck = sum(1 for s in status_of.values() if s not in ENDED)
    distinct = len(received)
    leaked_cap = max(0, counted - distinct)
    leaked = leaked_cap + leaked_pacing
    # Uncapped, every send is counted once after it went out: a count short of the sends is one a crash lost for good.
    miscounted = abs(counted - distinct) if args.uncapped else 0
    in_flight = []
    for fault in faults:
        held = [
            m
            for m in messages
            if fault.at - args.hold <= datetime.fromisoformat(m["accepted_at"]).timestamp() <= fault.at
        ]
        in_flight.append(len(held))
    hit = sum(1 for n in in_flight if n)
    by_kind = Counter(f.kind for f in faults)
    hit_by_kind = Counter(f.kind for f, n in zip(faults, in_flight, strict=True) if n)

    print()
    print("fault suite (./run chaos)")
    print(f"  enrollments              {len(enrollment_ids)} x {len(STEPS)} template sends, 20 s apart")
    print(f"  sandbox answer held      {args.hold:g} s per send (slow_accept)")
    print(
        f"  faults                   {by_kind['worker']} worker SIGKILLs, {by_kind['temporal']} Temporal restarts, "
        f"{by_kind['postgres']} PostgreSQL restarts, {by_kind['postgres-crash']} PostgreSQL crashes (SIGKILL) over "
        f"{args.fault_window:g} s"
    )
    print(
        f"  faults hitting a send    {hit} of {len(faults)} (worker {hit_by_kind['worker']}, temporal "
        f"{hit_by_kind['temporal']}, postgres {hit_by_kind['postgres']}, crash {hit_by_kind['postgres-crash']}); sends "
        "in flight at those moments: "
        f"{sum(in_flight)}"
    )
    for kind, label in (
        ("temporal", "temporal restart"),
        ("postgres", "postgres restart"),
        ("postgres-crash", "postgres crash"),
    ):
        took = [f.seconds for f in faults if f.kind == kind]
        if took:
            print(f"  {label:<24} {', '.join(f'{s:.1f}' for s in took)} s until it answered")
    print(f"  sends received           {sum(received.values())} ({distinct} distinct steps)")
    print(f"  enrollments              {dict(sorted(states.items()))} {settled_after:.0f} s after the first fault")
    print(f"  duplicate sends          {duplicates}")
    print(f"  lost steps               {lost}")
    print(f"  stuck enrollments        {stuck}")
    print(f"  leaked slots             {leaked} (daily cap {leaked_cap}, recipient pacing {leaked_pacing})")
    if args.uncapped:
        print(f"  miscounted (uncapped)    {miscounted} (daily count {counted}, distinct steps received {distinct})")
    print(f"  machine                  start: {load_start}; end: {load_end}")
    print(f"  run took                 {time.monotonic() - began:.0f} s")
    return 0 if (duplicates, lost, stuck, leaked, miscounted) == (0, 0, 0, 0, 0) and distinct else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=200)
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--temporal-restarts", type=int, default=3)
    parser.add_argument("--postgres-restarts", type=int, default=3)
    parser.add_argument("--postgres-crashes", type=int, default=2, help="PostgreSQL killed at once (SIGKILL)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the sandbox holds each send's answer")
    parser.add_argument("--fault-window", type=float, default=240.0, help="seconds the faults are spread over")
    parser.add_argument("--waves", type=int, default=20, help="enrollment batches spread over the fault window")
    parser.add_argument("--settle", type=float, default=600.0, help="seconds to wait for the enrollments to end")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) at the end")
    parser.add_argument(
        "--uncapped",
        action="store_true",
        help="a sequence without a daily cap: sends counted after they go out, the count checked both ways",
    )
    args = parser.parse_args()
    if not 1 <= args.enrollments <= 2000 or not 0 <= args.worker_kills <= 100:
        parser.error("--enrollments 1..2000, --worker-kills 0..100")
    if not 0 <= args.temporal_restarts <= 10 or not 0 <= args.postgres_restarts <= 10:
        parser.error("--temporal-restarts and --postgres-restarts 0..10")
    if not 10 <= args.fault_window <= 1800 or not 10 <= args.settle <= 1800 or not 0 <= args.hold <= 30:
        parser.error("--fault-window and --settle 10..1800 s, --hold 0..30 s")
    code = 2
    try:
        bound = 600 + args.fault_window + args.settle
        code = asyncio.run(asyncio.wait_for(run(args), timeout=bound))
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    exit_now(code)


if __name__ == "__main__":
    main()

"""A throwaway Leadflow stack for one benchmark run, torn down at the end whatever happens.

What it starts (loopback only, free ports, everything under a temporary directory):
- a fresh database on the machine's PostgreSQL (`settings.test_postgres_admin_url`), migrated with core.migrate;
- a Temporal dev server from `.venv/bin/temporal` with the search attributes of workflows/search_attributes.py,
  through the dev stack's launcher (devstack.temporal.DevTemporal), its SQLite database in memory like the test
  suite's (`temporal_db="memory"`, the default) or in a file like `./run up` (`"file"`: every write is synced to
  disk, which on this machine makes the bare engine two to three times slower);
- the real worker (`python -m worker`), the webhook dispatcher (`python -m dispatcher`), the bare-engine baseline
  worker (`python -m bench.baseline_worker`) and the API (`uvicorn api.app:create_app --factory`) as separate
  processes, configured through LEADFLOW_* variables.
Redis is the machine's own 127.0.0.1:6379 under a prefix unique to the run; its keys are deleted at the end.

Child processes are the dev stack's `Child`s: each in its own process group, stopped as a group in `close()`, which
also runs at interpreter exit and on SIGTERM/SIGINT, so a benchmark never leaves a server behind.
"""

import argparse
import asyncio
import atexit
import compileall
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil
import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from bench.baseline import BASELINE_QUEUE
from core.config import Settings
from core.db import create_engine, create_session_factory
from core.migrate import upgrade_to_head
from core.payload_codec import data_converter
from core.queues import LEADS_QUEUE, SEQUENCES_QUEUE
from devstack.processes import REPOSITORY, Child, answers_ok, stop_quietly
from devstack.redis import delete_prefixed_keys
from devstack.temporal import DevTemporal, wait_for_pollers

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


class BenchStack:
    """`async with BenchStack() as stack:` gives `stack.api_url`, `stack.temporal`, `stack.session_factory`."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "BenchStack":
        """The stack `add_stack_arguments`' options describe."""
        return cls(
            keep_logs=args.keep_logs,
            temporal_db=args.temporal_db,
            api_workers=args.api_workers,
            bulk_workers=args.bulk_workers,
            interactive_workers=args.interactive_workers,
            profile=tuple(name for name in (args.profile or "").split(",") if name),
            profile_dir=args.profile_dir,
        )

    def __init__(
        self,
        *,
        keep_logs: bool = False,
        temporal_db: str = "memory",
        api_workers: int = 1,
        bulk_workers: int = 1,
        interactive_workers: int = 1,
        profile: tuple[str, ...] = (),
        profile_dir: Path = Path("."),
    ) -> None:
        base = Settings()
        self.dir = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
        self.keep_logs = keep_logs
        self.profile = profile
        self.profile_dir = profile_dir.resolve()
        self.run_id = uuid.uuid4().hex[:10]
        self.admin_url = base.test_postgres_admin_url.replace("postgresql+psycopg://", "postgresql://")
        self.db_name = f"leadflow_bench_{self.run_id}"
        self.database_url = self.admin_url.rsplit("/", 1)[0] + f"/{self.db_name}"
        self.redis_url = base.test_redis_url
        self.redis_prefix = f"leadflow-bench-{self.run_id}"
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.temporal_address = f"127.0.0.1:{free_port()}"
        self.dev_temporal = DevTemporal(
            self.dir, address=self.temporal_address, namespace="default", ui_port=free_port()
        )
        self.temporal_db = temporal_db
        self.api_workers = api_workers
        self.bulk_workers = bulk_workers
        self.interactive_workers = interactive_workers
        if temporal_db == "memory":
            # The launcher always names a database file; without `--db-filename` the dev server keeps it in memory.
            argv = self.dev_temporal.child.argv
            at = argv.index("--db-filename")
            del argv[at : at + 2]
        self.children: list[Child] = []
        self._db_created = False
        self._closed = False
        self.temporal: Client | None = None
        self.engine: AsyncEngine | None = None
        self.session_factory: async_sessionmaker[AsyncSession] | None = None
        self.settings = Settings(
            env="dev",
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            temporal_address=self.temporal_address,
            temporal_namespace="default",
            api_port=self.api_port,
            public_base_url=self.api_url,
        )

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> "BenchStack":
        atexit.register(self.close)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        try:
            await self._start()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.engine is not None:
            await self.engine.dispose()
        self.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.close()
        raise SystemExit(128 + signum)

    async def _start(self) -> None:
        say(f"throwaway stack in {self.dir}")
        say(f"Temporal dev server on {self.temporal_address} (SQLite {self.temporal_db})")
        self.dev_temporal.start()
        self.children.append(self.dev_temporal.child)
        say(f"database {self.db_name} (migrating)")
        await asyncio.to_thread(self._create_database)
        self.temporal = await self.dev_temporal.connect(READY_TIMEOUT, converter=data_converter(self.settings))
        os.environ.update(self._child_env())
        await asyncio.to_thread(compile_sources)
        worker = self._python_child("worker", "-m", "worker", "--queues", "interactive")
        for number in range(2, self.interactive_workers + 1):
            self._python_child(f"worker-{number}", "-m", "worker", "--queues", "interactive")
        bulk_worker = self._python_child("worker-bulk", "-m", "worker", "--queues", "bulk")
        for number in range(2, self.bulk_workers + 1):
            self._python_child(f"worker-bulk-{number}", "-m", "worker", "--queues", "bulk")
        self._python_child("dispatcher", "-m", "dispatcher")
        baseline = self._python_child("baseline-worker", "-m", "bench.baseline_worker")
        api = self._python_child(
            "api",
            "-m", "uvicorn", "api.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.api_port), "--log-level", "warning",
            "--workers", str(self.api_workers),
        )  # fmt: skip
        say("starting the workers (interactive, bulk), webhook dispatcher, baseline worker and API")
        readyz = f"{self.api_url}/readyz"
        await asyncio.gather(
            wait_for_pollers(self.temporal, LEADS_QUEUE, namespace="default", child=worker, within=READY_TIMEOUT),
            wait_for_pollers(
                self.temporal, SEQUENCES_QUEUE, namespace="default", child=bulk_worker, within=READY_TIMEOUT
            ),
            wait_for_pollers(self.temporal, BASELINE_QUEUE, namespace="default", child=baseline, within=READY_TIMEOUT),
            answers_ok("the API (/readyz)", readyz, child=api, within=READY_TIMEOUT),
        )
        self.engine = create_engine(self.settings)
        self.session_factory = create_session_factory(self.engine)
        say(f"stack up: API {self.api_url}")

    def _child_env(self) -> dict[str, str]:
        return {
            "LEADFLOW_ENV": "dev",
            "LEADFLOW_LOG_LEVEL": "WARNING",
            "LEADFLOW_DATABASE_URL": self.database_url,
            "LEADFLOW_REDIS_URL": self.redis_url,
            "LEADFLOW_REDIS_PREFIX": self.redis_prefix,
            "LEADFLOW_TEMPORAL_ADDRESS": self.temporal_address,
            "LEADFLOW_TEMPORAL_NAMESPACE": "default",
            "LEADFLOW_API_HOST": "127.0.0.1",
            "LEADFLOW_API_PORT": str(self.api_port),
            "LEADFLOW_PUBLIC_BASE_URL": self.api_url,
        }

    def python_child(self, name: str, *args: str) -> Child:
        """Start `python *args` as one more child of the stack (stopped with it; its log under the run's logs)."""
        return self._python_child(name, *args)

    def _python_child(self, name: str, *args: str) -> Child:
        # `--profile worker,dispatcher` runs those children under cProfile (bench/profile_child.py), their stats
        # written to `--profile-dir` as <name>.prof.
        if name in self.profile:
            args = ("-m", "bench.profile_child", str(self.profile_dir / f"{name}.prof"), *args)
        child = Child.python(self.dir, name, *args)
        child.start()
        self.children.append(child)
        return child

    def _create_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self._db_created = True
        upgrade_to_head(self.database_url)

    def start_profiles(self) -> None:
        """Start the profiles of the children run under `--profile` (none: nothing happens)."""
        for child in self.children:
            if child.name in self.profile and child.pid is not None:
                os.kill(child.pid, signal.SIGUSR1)

    def check_alive(self) -> None:
        """Raise (naming the child and its last log lines) when a server of the stack died during the run."""
        for child in self.children:
            child.check_alive()

    def pid_of(self, name: str) -> int | None:
        return next((child.pid for child in self.children if child.name == name), None)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each child has used so far, its own children included, and PostgreSQL's."""
        used: dict[str, float] = {}
        for child in self.children:
            with contextlib.suppress(psutil.Error, TypeError):
                process = psutil.Process(child.pid)
                total = 0.0
                for part in [process, *process.children(recursive=True)]:
                    times = part.cpu_times()
                    total += times.user + times.system
                used[child.name] = total
        used["postgres"] = self._postgres_cpu_seconds()
        return used

    async def quiet(self, *, below_cores: float = 0.15, for_seconds: float = 3.0, within: float = 60.0) -> float:
        """Wait (at most `within` s) until the stack's processes together have used less than `below_cores` for
        `for_seconds` in a row: what an earlier phase set off (timers, workflow tasks, the server's deferred work)
        must not land on the next phase's figures. The seconds it took."""
        started = time.monotonic()
        calm = 0.0
        while time.monotonic() - started < within and calm < for_seconds:
            before = self.cpu_seconds()
            await asyncio.sleep(0.5)
            after = self.cpu_seconds()
            busy = sum(max(0.0, after[name] - before.get(name, 0.0)) for name in after) / 0.5
            calm = calm + 0.5 if busy < below_cores else 0.0
        return time.monotonic() - started

    def _postgres_cpu_seconds(self) -> float:
        """CPU of the machine PostgreSQL's backends serving this run's database (backends gone since are missed)."""
        total = 0.0
        with contextlib.suppress(Exception), psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db_name,)).fetchall()
            for (pid,) in rows:
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(pid).cpu_times()
                    total += times.user + times.system
        return total

    def close(self) -> None:
        """Stop every child (reverse start order), drop the database, delete the run's Redis keys. Idempotent."""
        if self._closed:
            return
        self._closed = True
        stop_quietly(self.children)
        if self._db_created:
            with contextlib.suppress(Exception), psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        delete_prefixed_keys(self.redis_url, self.redis_prefix)
        if self.keep_logs:
            say(f"logs kept in {self.dir / 'logs'}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# What the image precompiles (Dockerfile): the code the stack's processes import.
SOURCE_PACKAGES = (
    "activities", "agent", "api", "bench", "channels", "core", "devstack", "dispatcher", "domain", "models",
    "providers", "repositories", "sandbox", "worker", "workflow_clients", "workflows",
)  # fmt: skip


def compile_sources() -> None:
    """Byte-compile the stack's code as the image does. Without it (PYTHONDONTWRITEBYTECODE, no __pycache__) every
    import compiles its source again, and the worker's workflow sandbox imports the workflow's module once per
    workflow run (about 3 ms of CPU for workflows/lead.py, for each new lead)."""
    for package in SOURCE_PACKAGES:
        compileall.compile_dir(REPOSITORY / package, quiet=1)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--temporal-db",
        choices=["memory", "file"],
        default="memory",
        help="the Temporal dev server's SQLite: in memory (default, like the tests) or a file (like ./run up)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the stack's logs (their path is printed)")
    parser.add_argument(
        "--api-workers", type=int, default=1, choices=range(1, 5), help="API processes (production compose runs 2)"
    )
    for queues in ("bulk", "interactive"):
        parser.add_argument(
            f"--{queues}-workers",
            type=int,
            default=1,
            choices=range(1, 5),
            help=f"{queues} worker processes, each one Python process on at most one core (production compose runs 2)",
        )
    parser.add_argument(
        "--profile",
        metavar="NAMES",
        help="stack processes to run under cProfile from the drive on, e.g. worker,dispatcher (stats: <name>.prof)",
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("."), help="where --profile writes its stats")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def exit_now(code: int) -> None:
    """End a CLI that used the Temporal SDK: flush, then os._exit (temporalio can abort at exit, sdk-python#300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_and_exit(benchmark: Coroutine[Any, Any, int]) -> None:
    """Run a benchmark and end the process with its exit code; an error is printed and ends it with 1."""
    code = 1
    try:
        code = asyncio.run(benchmark)
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    exit_now(code)


# -- the provider sandbox as one more stack process ----------------------------------------------------------------


def prepare_sandbox(stack: "BenchStack", **environment: str) -> int:
    """A port for the provider sandbox, set before the stack starts its processes: the worker reaches the tenants'
    `sandbox` WhatsApp accounts through LEADFLOW_SANDBOX_PORT, and the sandbox sends its webhooks to the API.
    `environment`: more LEADFLOW_* variables the stack's processes read."""
    port = free_port()
    os.environ.update(
        {
            "LEADFLOW_SANDBOX_PORT": str(port),
            "LEADFLOW_WHATSAPP_SANDBOX_CLOUD_WEBHOOK_URL": f"{stack.api_url}/webhooks/whatsapp/cloud",
            **environment,
        }
    )
    return port


async def wait_for_sandbox(url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{url}/_sandbox/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the provider sandbox did not start")


async def start_sandbox(stack: "BenchStack", port: int, **config: Any) -> str:
    """The sandbox on `port` as a child of the started stack, once it answers, with its runtime `config`; its URL."""
    stack.python_child("sandbox", "-m", "sandbox", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    await wait_for_sandbox(url)
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post("/_sandbox/config", json=config)
    return url


# -- a load driver in a second process (a benchmark file run with `--drive SPEC OUT`) ----------------------------------


Drive = Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]


def driver_main(drive: Drive, spec_path: str, out_path: str) -> None:
    """The driver process: `drive` the JSON spec at `spec_path`, write its result as JSON to `out_path`, exit."""
    code = 1
    try:
        spec = json.loads(Path(spec_path).read_text())
        Path(out_path).write_text(json.dumps(asyncio.run(drive(spec))))
        code = 0
    except Exception as exc:
        print(f"driver error: {exc!r}", file=sys.stderr)
    exit_now(code)


async def run_driver_process(
    script: str, spec: dict[str, Any], *, spec_path: Path, out_path: Path, bound: float, name: str
) -> dict[str, Any]:
    """`script --drive` as a separate process (its own session, killed with its group if it outlives `bound`
    seconds); its result."""
    await asyncio.to_thread(spec_path.write_text, json.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        sys.executable, script, "--drive", str(spec_path), str(out_path), start_new_session=True
    )
    code: int | None = None
    try:
        code = await asyncio.wait_for(process.wait(), timeout=bound)
    except TimeoutError:
        pass
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if code != 0:
        raise RuntimeError(f"the {name} driver failed (exit code {code}); see its output above")
    result: dict[str, Any] = json.loads(await asyncio.to_thread(out_path.read_text))
    return result


async def driver_report(
    tasks: list["asyncio.Task[None]"], results: list[Any], *, sending_took: float, grace: float
) -> dict[str, Any]:
    """After the driver's last send: its sends' `results` once answered, `grace` seconds at most (the rest are
    cancelled and counted as unanswered), with the driver's own CPU seconds."""
    _, late = await asyncio.wait(tasks, timeout=grace) if tasks else (set(), set())
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=5)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "results": results,
        "unanswered": len(late),
        "sending_took": sending_took,
        "driver_cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


async def wait_until_quiet(
    stack: "BenchStack", *, names: tuple[str, ...] = ("temporal", "worker"), cores: float = 0.15, within: float = 900.0
) -> float:
    """Wait until `names` together use under `cores` over a whole second (work queued by an earlier phase is done);
    the seconds waited. Gives up after `within` seconds."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        before = stack.cpu_seconds()
        await asyncio.sleep(1.0)
        after = stack.cpu_seconds()
        if sum(after.get(n, 0.0) - before.get(n, 0.0) for n in names) < cores:
            break
    return time.monotonic() - began


def machine_load() -> str:
    """The 1-minute load average over the CPU count: other work on the machine skews every figure."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def cpu_report(before: dict[str, float], after: dict[str, float], *, seconds: float, operations: int, unit: str) -> str:
    """CPU each stack process used between two `cpu_seconds()` readings: cores over `seconds` of wall time, and
    milliseconds per operation (load-independent: what 2 dedicated cores could sustain follows from it)."""
    parts = []
    for name in after:
        used = after[name] - before.get(name, 0.0)
        if used < 0.005 * seconds:
            continue  # idle during this phase
        per_op = f", {used * 1000 / operations:.1f} ms/{unit}" if operations else ""
        parts.append(f"{name} {used / seconds:.2f} cores{per_op}")
    return "; ".join(parts)


def cpu_bound_rate(before: dict[str, float], after: dict[str, float], *, operations: int) -> float:
    """Operations per second the machine's CPUs would sustain if the stack had them to itself and CPU were the only
    limit: CPU count / (CPU seconds of all stack processes per operation). An estimate independent of other load;
    the benchmark client's own CPU is not counted."""
    used = sum(max(0.0, after[name] - before.get(name, 0.0)) for name in after)
    return (os.cpu_count() or 1) * operations / used if used and operations else float("nan")


def wall_clock() -> float:
    """Seconds since the epoch: comparable with Temporal's event timestamps (same machine, same clock)."""
    return time.time()

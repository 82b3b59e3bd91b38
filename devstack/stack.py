"""`python -m devstack up`: the whole Leadflow system on one machine, in the foreground, until Ctrl-C.

Order: PostgreSQL and Redis (private instances under the state directory unless their URLs are configured) and
the Temporal dev server start side by side; then migrations, the system_admin and the demo accounts; then the
provider sandbox, the worker and the API (children that inherit the computed LEADFLOW_* settings); then the demo
leads through the API. Each step waits until its service answers. SIGINT/SIGTERM stop everything in reverse order;
a child that dies stops the rest and makes `up` exit non-zero naming it. The state directory is kept, so the next
`up` finds its data again.
"""

import asyncio
import os
import signal
import sys
import traceback
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from core.config import Settings
from core.queues import LEADS_QUEUE, SEQUENCES_QUEUE
from devstack import seed
from devstack.postgres import PrivatePostgres
from devstack.processes import (
    Child,
    ChildDied,
    StackError,
    StateLock,
    answers_ok,
    end_left_behind,
    require_free_port,
    wait_until,
)
from devstack.redis import PrivateRedis
from devstack.temporal import DevTemporal, wait_for_pollers
from devstack.temporal_setup import ensure_namespace, ensure_search_attributes
from dispatcher.runner import LISTENER_APPLICATION_NAME
from workflow_clients.jobs import ensure_sweep_schedule

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
LEFT_BEHIND_STOP_SECONDS = 20.0  # how long a left-behind child gets to stop before it is killed


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def dispatcher_listening(database_url: str) -> bool:
    """Whether a webhook dispatcher holds its LISTEN connection to this database."""
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (LISTENER_APPLICATION_NAME,),
        ).fetchone()
    return bool(row and row[0])


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _configured(variable: str, url: str, private: str) -> str:
    # A variable inherited from the shell replaces the private server silently otherwise: say which one is used.
    return f"{masked_url(url)}   (from {variable}; the private {private} is not used)"


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state_dir = Path(settings.dev_state_dir).resolve()
        self.lock = StateLock(self.state_dir / "devstack.lock")
        self.children: list[Child] = []  # in start order; stopped in reverse
        self.postgres = None if settings.database_url else PrivatePostgres(self.state_dir, settings.dev_postgres_port)
        self.redis = None if settings.redis_url else PrivateRedis(self.state_dir, settings.dev_redis_port)
        self.temporal = DevTemporal(
            self.state_dir,
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            ui_port=settings.temporal_ui_port,
            codec_endpoint=f"http://{_display_host(settings.api_host)}:{settings.api_port}/codec",
        )
        self.api_url = f"http://{_display_host(settings.api_host)}:{settings.api_port}"
        self.temporal_ui_url = settings.temporal_ui_url
        self.sandbox_url: str | None = None
        self.leads_created = 0

    # -- the child processes -------------------------------------------------------------------------------------

    def _python_child(self, name: str, *args: str) -> Child:
        return Child.python(self.state_dir, name, *args)

    def _start(self, child: Child) -> None:
        child.start()
        self.children.append(child)

    def _check_ports(self) -> None:
        settings = self.settings
        if self.postgres:
            require_free_port("127.0.0.1", settings.dev_postgres_port, "dev_postgres_port")
        if self.redis:
            require_free_port("127.0.0.1", settings.dev_redis_port, "dev_redis_port")
        require_free_port(self.temporal.host, self.temporal.port, "temporal_address")
        require_free_port(self.temporal.host, settings.temporal_ui_port, "temporal_ui_port")
        require_free_port(settings.api_host, settings.api_port, "api_port")
        if self._sandbox_wanted():
            require_free_port(settings.sandbox_host, settings.sandbox_port, "sandbox_port")

    def _sandbox_wanted(self) -> bool:
        return (ROOT / "sandbox" / "__main__.py").exists()

    def _export(self, database_url: str, redis_url: str) -> None:
        """What the children must agree on, as LEADFLOW_* variables they inherit (core.config reads them)."""
        given = self.settings.model_fields_set
        values = {
            "LEADFLOW_DATABASE_URL": database_url,
            "LEADFLOW_REDIS_URL": redis_url,
            "LEADFLOW_TEMPORAL_ADDRESS": self.settings.temporal_address,
            "LEADFLOW_TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
        }
        if "temporal_ui_url" not in given:
            self.temporal_ui_url = self.temporal.ui_url
            values["LEADFLOW_TEMPORAL_UI_URL"] = self.temporal_ui_url
        if "public_base_url" not in given:
            values["LEADFLOW_PUBLIC_BASE_URL"] = self.api_url
        if "whatsapp_sandbox_cloud_webhook_url" not in given:
            # The sandbox delivers inbound messages and delivery statuses to the API, as Meta would.
            values["LEADFLOW_WHATSAPP_SANDBOX_CLOUD_WEBHOOK_URL"] = f"{self.api_url}/webhooks/whatsapp/cloud"
        os.environ.update(values)

    # -- startup ---------------------------------------------------------------------------------------------------

    def _end_left_behind(self) -> None:
        """End the children a killed dev stack (SIGKILL, a lost terminal) left running, from their pid files: the
        application processes first, then Temporal, Redis and PostgreSQL (SIGINT: its fast shutdown)."""
        run_dir = self.state_dir / "run"
        order = ["api", "dispatcher", "worker", "worker-bulk", "sandbox", "temporal", "redis", "postgres"]
        found = sorted(run_dir.glob("*.pid"), key=lambda p: order.index(p.stem) if p.stem in order else -1)
        for pid_path in found:
            sig = signal.SIGINT if pid_path.stem == "postgres" else signal.SIGTERM
            end_left_behind(pid_path, sig, LEFT_BEHIND_STOP_SECONDS)

    async def start(self) -> None:
        self.lock.acquire()
        self._end_left_behind()  # before the port check: a killed stack's children still hold its ports
        self._check_ports()
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)

        _say(f"state directory {self.state_dir}")
        database_in_use, redis_in_use = self._stores()
        if not self.postgres:
            _say(f"PostgreSQL {database_in_use}")
        if not self.redis:
            _say(f"Redis {redis_in_use}")
        if self.postgres:
            _say(f"starting PostgreSQL on 127.0.0.1:{self.postgres.port}")
            self.postgres.start()
            self.children.append(self.postgres.child)
        if self.redis:
            _say(f"starting Redis (Valkey) on 127.0.0.1:{self.redis.port}")
            self.redis.start()
            self.children.append(self.redis.child)
        _say(f"starting the Temporal dev server on {self.temporal.address} (Web UI :{self.temporal.ui_port})")
        self.temporal.start()
        self.children.append(self.temporal.child)

        waits = []
        if self.postgres:
            waits.append(asyncio.to_thread(self.postgres.wait_ready, READY_TIMEOUT))
        if self.redis:
            waits.append(asyncio.to_thread(self.redis.wait_ready, READY_TIMEOUT))
        connecting = asyncio.create_task(self.temporal.connect(READY_TIMEOUT))
        try:
            await asyncio.gather(*waits)
        except BaseException:
            connecting.cancel()
            raise
        client = await connecting
        await ensure_namespace(client, self.settings.temporal_namespace)
        await ensure_search_attributes(client, self.settings.temporal_namespace)
        await ensure_sweep_schedule(client, every=timedelta(seconds=self.settings.job_sweep_interval_seconds))
        database_url = self.postgres.url if self.postgres else self.settings.require_database_url()
        redis_url = self.redis.url if self.redis else self.settings.require_redis_url()
        self._export(database_url, redis_url)
        settings = self.settings.model_copy(update={"database_url": database_url, "redis_url": redis_url})

        _say("migrating the database and creating the system admin")
        await seed.bootstrap(settings)
        if settings.seed_demo:
            await seed.seed_demo_accounts(settings)

        # The Python children import a lot on start: launch them together and wait for all of them at once.
        waits = []
        if self._sandbox_wanted():
            _say(f"starting the provider sandbox on {settings.sandbox_host}:{settings.sandbox_port}")
            sandbox = self._python_child("sandbox", "-m", "sandbox")
            self._start(sandbox)
            self.sandbox_url = settings.sandbox_url()
            sandbox_health = f"{self.sandbox_url}/_sandbox/health"
            waits.append(
                answers_ok(
                    "the provider sandbox", sandbox_health, child=sandbox, within=READY_TIMEOUT, request_timeout=2
                )
            )
        _say("starting the workers (interactive and bulk)")
        for name, queues, task_queue in (
            ("worker", "interactive", LEADS_QUEUE),
            ("worker-bulk", "bulk", SEQUENCES_QUEUE),
        ):
            worker = self._python_child(name, "-m", "worker", "--queues", queues)
            self._start(worker)
            waits.append(
                wait_for_pollers(
                    client, task_queue, namespace=settings.temporal_namespace, child=worker, within=READY_TIMEOUT
                )
            )
        _say("starting the webhook dispatcher")
        dispatcher = self._python_child("dispatcher", "-m", "dispatcher")
        self._start(dispatcher)
        waits.append(
            asyncio.to_thread(
                wait_until,
                "the webhook dispatcher (LISTEN)",
                lambda: dispatcher_listening(database_url),
                child=dispatcher,
                timeout=READY_TIMEOUT,
            )
        )
        _say(f"starting the API on {self.api_url}")
        api = self._python_child(
            "api",
            "-m", "api",
            "--host", settings.api_host, "--port", str(settings.api_port),
            # The login limit's client address comes from LEADFLOW_TRUSTED_PROXIES (api/client_address.py) only.
            "--no-proxy-headers",
        )  # fmt: skip
        self._start(api)
        readyz = f"{self.api_url}/readyz"
        waits.append(answers_ok("the API (/readyz)", readyz, child=api, within=READY_TIMEOUT))
        await asyncio.gather(*waits)
        if settings.seed_demo:
            self.leads_created = await seed.seed_demo_leads(settings, self.api_url)

    def _stores(self) -> tuple[str, str]:
        """Which PostgreSQL and Redis the stack uses, and where each came from."""
        s = self.settings
        if self.postgres:
            database = f"{self.postgres.url}   (private, {self.postgres.data})"
        else:
            database = _configured("LEADFLOW_DATABASE_URL", s.require_database_url(), "PostgreSQL")
        if self.redis:
            redis = f"{self.redis.url}   (private Valkey, {self.redis.dir})"
        else:
            redis = _configured("LEADFLOW_REDIS_URL", s.require_redis_url(), "Redis")
        return database, redis

    # -- running -----------------------------------------------------------------------------------------------------

    def banner(self) -> str:
        s = self.settings
        state = self.state_dir
        lines = [
            "",
            "Leadflow is up.",
            f"  API                {self.api_url}",
            f"  OpenAPI docs       {self.api_url}/docs   (schema {self.api_url}/openapi.json)",
            f"  Temporal Web UI    {self.temporal_ui_url}",
            f"  Temporal gRPC      {s.temporal_address}   (namespace {s.temporal_namespace})",
            # The CLI reads no LEADFLOW_* variable: with moved ports it needs the address.
            f"  Temporal CLI       .venv/bin/temporal workflow list --address {s.temporal_address}"
            + ("" if s.temporal_namespace == "default" else f" --namespace {s.temporal_namespace}"),
        ]
        if self.sandbox_url:
            lines.append(f"  Provider sandbox   {self.sandbox_url}   (inspect: {self.sandbox_url}/_sandbox/messages)")
        db, rd = self._stores()
        lines += [f"  PostgreSQL         {db}", f"  Redis              {rd}", f"  Logs               {state / 'logs'}/"]
        lines += ["", "Logins:", f"  system_admin   {s.bootstrap_admin_email} / {s.bootstrap_admin_password}"]
        if s.seed_demo:
            for user in seed.DEMO_USERS:
                lines.append(f"  {user.role.value:<14} {user.email} / {seed.DEMO_PASSWORD}")
            lines.append(
                f"  (tenant {seed.DEMO_TENANT_NAME!r}, slug {seed.DEMO_TENANT_SLUG}; "
                f"{len(seed.DEMO_LEADS)} demo leads, {self.leads_created} new this run)"
            )
        lines += ["", f"Ctrl-C stops everything; the data stays in {state} (delete it to start over).", ""]
        return "\n".join(lines)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Return when asked to stop; raise ChildDied when a child ends on its own."""
        while not stop.is_set():
            for child in self.children:
                child.check_alive()
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except TimeoutError:
                pass

    def first_dead_child(self) -> ChildDied | None:
        """The first child, in start order, that has ended on its own."""
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                return ChildDied(child, code)
        return None

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.exit_code() is None:
                _say(f"stopping {child.name}")
            child.stop()
        self.children.clear()
        self.lock.release()


async def up(settings: Settings) -> int:
    try:
        stack = Stack(settings)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
        loop.add_signal_handler(sig, stop.set)
    try:
        startup = asyncio.create_task(stack.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({startup, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():
            startup.cancel()
            await asyncio.gather(startup, return_exceptions=True)
            return 0
        stopping.cancel()
        startup.result()
        print(stack.banner(), flush=True)
        await stack.supervise(stop)
        return 0
    except StackError as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception:
        traceback.print_exc()
        died = stack.first_dead_child()
        if died is not None:  # a failed call to a child that has died: the death is what to report
            print(f"\nerror: {died}", file=sys.stderr, flush=True)
        print("\nerror: the dev stack failed to start (traceback above); stopping what started", file=sys.stderr)
        return 1
    finally:
        await asyncio.to_thread(stack.stop_all)

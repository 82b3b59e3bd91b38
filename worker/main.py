"""The worker's wiring: which workflows and activities poll which task queue, with which clients.

`build_worker` is the only place workflows meet their activities (import contract); `python -m worker` runs it, and the
tests run the same function against their own servers. A process polls the interactive queue, the bulk (sequence)
queue, or both (core/queues.py, `LEADFLOW_WORKER_QUEUES`). New features register here: add the workflow class to
`WORKFLOWS` and the bound activity methods to `activities()`.
"""

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxRestrictions

from activities.ai import AiActivities
from activities.calls import CallActivities
from activities.feature_flags import FeatureFlagActivities
from activities.jobs import JobActivities
from activities.leads import LeadActivities
from activities.sequences import SequenceActivities
from activities.whatsapp import WhatsAppActivities
from agent.factory import AgentFactory
from core.config import Settings
from core.feature_flags import FeatureFlagReader
from core.queues import LEADS_QUEUE, SEQUENCES_QUEUE, WORKER_GRACEFUL_SHUTDOWN
from worker.activity_logging import ActivityLoggingInterceptor
from worker.sandbox import CollectorPausedSandbox
from worker.send_drain import ScheduledSendDrain
from workflows.bulk_start import BulkStartWorkflow
from workflows.call import CallWorkflow
from workflows.lead import LeadWorkflow
from workflows.sequence import SequenceWorkflow
from workflows.sweep import SweepWorkflow

WORKFLOWS: Sequence[type] = [LeadWorkflow, SequenceWorkflow, BulkStartWorkflow, SweepWorkflow, CallWorkflow]

# Pure modules shared by every workflow: imported once instead of once per workflow run (they keep no state). This
# list is the one way modules pass through the sandbox: workflow modules import them plainly.
SANDBOX_PASSTHROUGH = [
    "domain",
    "core.queues",
    "workflows.ids",
    "workflows.search_attributes",
    "workflows.shared",
    "workflows.failures",
    "workflows.lead_types",
    "workflows.sequence_types",
    "workflows.job_types",
    "workflows.ai_types",
    # The tracing interceptor's workflow side uses OpenTelemetry's context inside the sandbox.
    "opentelemetry",
    "workflows.call_types",
]


def activities(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: Client,
    resources: AsyncExitStack | None = None,
) -> list[Callable[..., Any]]:
    """Every activity the worker serves, bound to clients built once per process; `resources` closes them."""
    return served_activities(settings, session_factory, client, resources)[0]


def served_activities(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    client: Client,
    resources: AsyncExitStack | None = None,
) -> tuple[list[Callable[..., Any]], SequenceActivities]:
    """`activities()`, and the sequence activities the scheduled-send drain sends through."""
    whatsapp = WhatsAppActivities.for_process(settings, session_factory)
    if resources is not None:
        resources.push_async_callback(whatsapp.aclose)
    # What the activities change, told to open web apps over the WhatsApp activities' Redis client.
    leads = LeadActivities(session_factory, whatsapp.live)
    # The sequence activities get the worker's own Temporal client: set_status sends the LeadWorkflow an update.
    sequences = SequenceActivities(session_factory, client, whatsapp.live, send=whatsapp.send)
    # The job activities start workflows (bulk enrollments, imports, the sweeper) with the worker's client.
    jobs = JobActivities(session_factory, client, settings)
    # One flag reader (and cache) for every activity that gates on a tenant's feature flags.
    reader = FeatureFlagReader(session_factory, ttl_seconds=settings.feature_flag_cache_seconds)
    flags = FeatureFlagActivities(reader)
    # One agent factory per process: the model clients it builds are shared by every tenant with the same endpoint.
    factory = AgentFactory(settings)
    if resources is not None:
        resources.push_async_callback(factory.aclose)
    ai = AiActivities(
        session_factory, factory, client, settings, reader, whatsapp.live, send_reply=whatsapp.send_whatsapp_message
    )
    calls = CallActivities.for_process(settings, session_factory, flags=reader, temporal=client, agents=factory)
    if resources is not None:
        resources.push_async_callback(calls.aclose)
    served: list[Callable[..., Any]] = [
        flags.get_feature_flags,
        leads.mirror_status_change,
        leads.record_speed_to_lead_alert,
        whatsapp.send_whatsapp_message,
        sequences.mirror_enrollment,
        sequences.reserve_daily_send,
        sequences.send_message,
        sequences.schedule_send,
        sequences.settle_scheduled_send,
        sequences.create_task,
        sequences.close_task,
        sequences.escalate_overdue_task,
        sequences.set_lead_status,
        jobs.begin,
        jobs.start_chunk,
        jobs.finish,
        jobs.sweep,
        ai.plan_turn,
        ai.run_turn,
        ai.save_draft,
        ai.settle_draft,
        ai.compose_message,
        ai.note_message_fallback,
        calls.prepare,
        calls.place,
        calls.hang_up,
        calls.mirror,
        calls.voice_reply,
        calls.create_missed_call_task,
        calls.acquire_slot,
        calls.request_slot,
        calls.renew_slot,
        calls.release_slot,
        calls.tell_lead,
        calls.summarize,
        calls.start_for_sequence,
    ]
    return served, sequences


def workflow_runner(sandboxed: bool = True) -> WorkflowRunner:
    """The SDK's sandbox, or none (`LEADFLOW_WORKER_WORKFLOW_SANDBOX`, off by default for the workers).

    The sandbox imports a workflow's module afresh for every workflow instance, and an uncached bulk worker builds
    one instance per task: rebuilding a recorded enrollment took 43-55 ms of CPU sandboxed, 22-26 ms without
    (bench/workflow_replay.py). Without it, determinism rests on the tests: every
    recorded history replays in the sandbox (tests/workflows/replay.py) and the workflow modules are read for
    non-deterministic calls (tests/workflows/test_workflow_code.py). Replays and history recordings keep the sandbox.
    It loads workflow modules with the garbage collector paused (worker/sandbox.py).
    """
    if not sandboxed:
        return UnsandboxedWorkflowRunner()
    return CollectorPausedSandbox(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*SANDBOX_PASSTHROUGH)
    )


def worker_interceptors(client: Client) -> list[Interceptor]:
    """Activity logging and metrics, and tracing unless the client brings it (core/temporal.py's clients do)."""
    interceptors: list[Interceptor] = [ActivityLoggingInterceptor()]
    if not any(isinstance(i, TracingInterceptor) for i in client.config()["interceptors"]):
        interceptors.append(TracingInterceptor())
    return interceptors


INTERACTIVE = "interactive"
BULK = "bulk"


def worker_options(settings: Settings, queue: str) -> dict[str, Any]:
    """The `Worker` settings of one side (README, "Due-step bursts", gives the measurements behind them).

    Bulk: no workflow cache by default, so no sticky queue. Every bulk task then goes through the task queue, where
    Temporal orders the backlog fairly by tenant; a cached workflow's tasks go to its worker's sticky queue instead,
    which the server hands out first in, first out (another tenant's due send was 96 s late behind a 1,500-send burst
    with a cache, 7.6 s behind 1,000 without). An enrollment's history is short, so replaying it costs about what
    the cache saves (65 against 62 ms of worker CPU per send). With a cache
    (`LEADFLOW_WORKER_BULK_MAX_CACHED_WORKFLOWS`) the sticky schedule-to-start timeout is long enough that a task
    queued behind a burst stays on its worker instead of timing out into a replay elsewhere. Slots are bounded so
    the burst takes the event loop and the database pool in a measured share. Interactive: the SDK's slots, a cache
    for the live leads.
    """
    if queue == BULK:
        return {
            "task_queue": SEQUENCES_QUEUE,
            "max_cached_workflows": settings.worker_bulk_max_cached_workflows,
            "sticky_queue_schedule_to_start_timeout": timedelta(
                seconds=settings.worker_bulk_sticky_schedule_to_start_seconds
            ),
            "max_concurrent_workflow_tasks": settings.worker_bulk_max_concurrent_workflow_tasks,
            "max_concurrent_activities": settings.worker_bulk_max_concurrent_activities,
        }
    return {"task_queue": LEADS_QUEUE, "max_cached_workflows": settings.worker_interactive_max_cached_workflows}


class Workers:
    """The process's workers, one per task queue it polls, sharing one set of activities and clients, and the
    scheduled-send drain when it polls the bulk queue.

    `async with workers:` runs them all in the background (as `async with Worker(...)` does); `run()` until shutdown.
    """

    def __init__(self, workers: Sequence[Worker], drain: ScheduledSendDrain | None = None) -> None:
        self.workers = list(workers)
        self.drain = drain
        self._drain_task: asyncio.Task[None] | None = None
        self._stack: AsyncExitStack | None = None

    @property
    def task_queues(self) -> list[str]:
        return [worker.task_queue for worker in self.workers]

    async def __aenter__(self) -> "Workers":
        async with AsyncExitStack() as stack:
            for worker in self.workers:
                await stack.enter_async_context(worker)
            self._stack = stack.pop_all()
        if self.drain is not None:
            self._drain_task = asyncio.create_task(self.drain.run(), name="scheduled-send drain")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.drain is not None and self._drain_task is not None:
            # No new claims; the sends under way finish within the workers' own grace, else their lease runs out.
            self.drain.stop()
            done, _ = await asyncio.wait({self._drain_task}, timeout=WORKER_GRACEFUL_SHUTDOWN.total_seconds())
            if not done:
                self._drain_task.cancel()
                await asyncio.gather(self._drain_task, return_exceptions=True)
            self._drain_task = None
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.__aexit__(None, None, None)

    async def run(self) -> None:
        await asyncio.gather(*(worker.run() for worker in self.workers))


def build_worker(
    client: Client,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    resources: AsyncExitStack | None = None,
    *,
    queues: Sequence[str] | None = None,
) -> Workers:
    """The workers of `queues` (default: `settings.worker_queues`); run them with `async with workers:`.

    Every worker serves every workflow and activity: a workflow runs on the queue it was started on (enrollments
    started before the split stay on the interactive queue) and its activities on the same queue. The activities'
    clients (HTTP, Redis) are built once for all of them and closed when `resources` closes: exit it after the
    workers stopped.
    """
    served, sequences = served_activities(settings, session_factory, client, resources)
    polled = list(queues if queues is not None else settings.worker_queues)
    drain = None
    if BULK in polled:
        drain = ScheduledSendDrain(
            session_factory=session_factory,
            sequences=sequences,
            client=client,
            concurrency=settings.worker_bulk_drain_concurrency,
            retention=timedelta(hours=settings.scheduled_send_retention_hours),
        )
    return Workers(
        [
            Worker(
                client,
                workflows=list(WORKFLOWS),
                activities=served,
                workflow_runner=workflow_runner(settings.worker_workflow_sandbox),
                graceful_shutdown_timeout=WORKER_GRACEFUL_SHUTDOWN,
                interceptors=worker_interceptors(client),
                **worker_options(settings, queue),
            )
            for queue in polled
        ],
        drain,
    )

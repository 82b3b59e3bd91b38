"""`python -m worker` as ops run it: it connects from LEADFLOW_* settings, polls the leads task queue, and on SIGTERM
stops cleanly with exit code 0; without a reachable Temporal it exits non-zero saying why."""

import asyncio
import os
import signal
import sys
from contextlib import AsyncExitStack

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.config import Settings
from core.queues import LEADS_QUEUE
from tests.workflows.support import eventually
from worker.main import activities


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADFLOW_")}
    env.update(
        LEADFLOW_ENV="test",
        LEADFLOW_DATABASE_URL=settings.require_database_url(),
        LEADFLOW_REDIS_URL=settings.require_redis_url(),
        LEADFLOW_REDIS_PREFIX=settings.redis_prefix,
        LEADFLOW_TEMPORAL_ADDRESS=settings.temporal_address,
        LEADFLOW_TEMPORAL_NAMESPACE=settings.temporal_namespace,
        LEADFLOW_DB_POOL_SIZE="2",
    )
    env.update(overrides)
    return env


async def polls_from(client: Client, pid: int) -> bool:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=LEADS_QUEUE),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return any(poller.identity.startswith(f"{pid}@") for poller in response.pollers)


async def test_the_worker_process_polls_and_stops_cleanly_on_sigterm(
    settings: Settings, temporal_client: Client
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", env=worker_env(settings), stderr=asyncio.subprocess.PIPE
    )
    try:
        assert await eventually(lambda: polls_from(temporal_client, process.pid), within=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "worker stopped" in stderr.decode()


async def test_the_worker_process_explains_an_unreachable_temporal(settings: Settings) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "worker",
        env=worker_env(settings, LEADFLOW_TEMPORAL_ADDRESS="127.0.0.1:1"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "cannot connect to Temporal at 127.0.0.1:1" in stderr.decode()


async def test_the_workers_provider_clients_close_with_its_resources(
    settings: Settings, temporal_client: Client, session_factory
) -> None:  # type: ignore[no-untyped-def]
    # The activities build_worker registers (a second Worker on the session's task queue is not allowed here).
    async with AsyncExitStack() as resources:
        served = activities(settings, session_factory, temporal_client, resources)
        (send,) = [a for a in served if getattr(a, "__name__", "") == "send_whatsapp_message"]
        whatsapp = send.__self__  # type: ignore[attr-defined]
        assert not whatsapp._http.is_closed
    assert whatsapp._http.is_closed  # and the Redis pool with it (redis-py exposes no closed flag)

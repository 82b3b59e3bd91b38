"""`python -m worker` as ops run it: it connects from LEADFLOW_* settings, polls the leads task queue, and on SIGTERM
stops cleanly with exit code 0; without a reachable Temporal it exits non-zero saying why."""

from contextlib import AsyncExitStack

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from core.config import Settings
from core.queues import LEADS_QUEUE
from tests.fixtures.module_process import assert_explains_an_unreachable_temporal, run_until_ready_then_sigterm
from tests.workflows.support import server_gave_up
from worker.main import activities


async def polls_from(client: Client, pid: int) -> bool:
    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=LEADS_QUEUE),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except RPCError as err:
        if server_gave_up(err):
            return False  # asked again
        raise
    return any(poller.identity.startswith(f"{pid}@") for poller in response.pollers)


async def test_the_worker_process_polls_and_stops_cleanly_on_sigterm(
    settings: Settings, temporal_client: Client
) -> None:
    code, stderr = await run_until_ready_then_sigterm("worker", settings, lambda pid: polls_from(temporal_client, pid))
    assert code == 0, stderr
    assert "worker stopped" in stderr


async def test_the_worker_process_explains_an_unreachable_temporal(settings: Settings) -> None:
    await assert_explains_an_unreachable_temporal("worker", settings)


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

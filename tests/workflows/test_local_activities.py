"""A local activity that gives up fails as an activity does (workflows/shared.py `run_local_activity`): its error is
the cause of an `ActivityError`, so a workflow's `except ActivityError` handles it instead of the whole run failing.
The SDK itself raises it bare."""

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from workflows.shared import run_local_activity

REFUSES = "test.refuses"
FLAKY = "test.flaky"
_tries: dict[str, int] = {}


@activity.defn(name=REFUSES)
async def refuses(kind: str) -> str:
    raise ApplicationError("the row is gone", type="RowGone", non_retryable=kind == "non_retryable")


@activity.defn(name=FLAKY)
async def flaky(key: str) -> int:
    """Fails twice, then answers how many tries it took."""
    _tries[key] = _tries.get(key, 0) + 1
    if _tries[key] < 3:
        raise ApplicationError("the database is away")
    return _tries[key]


@workflow.defn(sandboxed=False)
class PatientStepWorkflow:
    @workflow.run
    async def run(self, key: str) -> int:
        # Backoffs 0.5 s (under the threshold: in the worker) and 6 s (over it: a durable timer).
        policy = RetryPolicy(initial_interval=timedelta(milliseconds=500), backoff_coefficient=12)
        return await run_local_activity(
            FLAKY, key, result_type=int, start_to_close_timeout=timedelta(seconds=5), retry_policy=policy
        )


@workflow.defn(sandboxed=False)
class LocalStepWorkflow:
    @workflow.run
    async def run(self, kind: str) -> str:
        try:
            await run_local_activity(
                REFUSES,
                kind,
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=2),
            )
        except ActivityError as err:
            cause = err.cause
            what = cause.type if isinstance(cause, ApplicationError) else repr(cause)
            return f"ActivityError caused by {what}"
        return "no error"


@pytest.mark.parametrize("kind", ["non_retryable", "attempts_used_up"])
async def test_a_local_activity_that_gives_up_is_an_activity_error(temporal_client: Client, kind: str) -> None:
    task_queue = f"local-activities-{uuid.uuid4()}"
    async with Worker(temporal_client, task_queue=task_queue, workflows=[LocalStepWorkflow], activities=[refuses]):
        outcome = await temporal_client.execute_workflow(
            LocalStepWorkflow.run, kind, id=f"local-step-{uuid.uuid4()}", task_queue=task_queue
        )
    assert outcome == "ActivityError caused by RowGone"


async def test_a_long_retry_of_a_local_activity_waits_on_a_durable_timer(temporal_client: Client) -> None:
    """A backoff past the threshold is a timer in the history, not a workflow task held open in the worker."""
    task_queue, key = f"local-activities-{uuid.uuid4()}", str(uuid.uuid4())
    async with Worker(temporal_client, task_queue=task_queue, workflows=[PatientStepWorkflow], activities=[flaky]):
        handle = await temporal_client.start_workflow(
            PatientStepWorkflow.run, key, id=f"patient-step-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == 3
    events = [event.event_type for event in (await handle.fetch_history()).events]
    assert events.count(EventType.EVENT_TYPE_TIMER_STARTED) == 1

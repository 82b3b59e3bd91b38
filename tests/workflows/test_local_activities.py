"""A local activity that gives up fails as an activity does (workflows/shared.py `run_local_activity`): its error is
the cause of an `ActivityError`, so a workflow's `except ActivityError` handles it instead of the whole run failing.
The SDK itself raises it bare."""

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from workflows.shared import run_local_activity

REFUSES = "test.refuses"


@activity.defn(name=REFUSES)
async def refuses(kind: str) -> str:
    raise ApplicationError("the row is gone", type="RowGone", non_retryable=kind == "non_retryable")


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

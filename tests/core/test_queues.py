"""Activity call options (core/queues.py) against the real thing: a DB write that PostgreSQL refuses for its data
fails at its first attempt instead of being retried forever, with the error type the retry policy names."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.sequences import SequenceActivities
from core.queues import DATA_ERROR, DB_RETRY, DB_WRITE
from workflows.sequence_types import MIRROR_ENROLLMENT, EnrollmentMirror, EnrollmentStatus, EnrollmentView


@workflow.defn(sandboxed=False)
class MirrorOnce:
    @workflow.run
    async def run(self, mirror: EnrollmentMirror) -> None:
        await workflow.execute_activity(MIRROR_ENROLLMENT, mirror, **DB_WRITE)


def _unstorable_mirror() -> EnrollmentMirror:
    view = EnrollmentView(
        enrollment_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        sequence_id=uuid.uuid4(),
        sequence_version_id=uuid.uuid4(),
        status=EnrollmentStatus.EXITED,
        exit_detail="a NUL \x00 that PostgreSQL cannot store",
        started_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
        revision=1,
    )
    return EnrollmentMirror(view=view)


def test_the_db_retry_policy_names_only_data_errors() -> None:
    assert DB_RETRY.non_retryable_error_types == [DATA_ERROR]


async def test_a_db_write_refused_for_its_data_fails_at_once(
    temporal_client: Client, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = f"queues-test-{uuid.uuid4()}"
    activities = SequenceActivities(session_factory, temporal_client)
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[MirrorOnce],
        activities=[activities.mirror_enrollment],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        try:
            await temporal_client.execute_workflow(
                MirrorOnce.run,
                _unstorable_mirror(),
                id=f"mirror-once-{uuid.uuid4()}",
                task_queue=queue,
                # A bound for the run, not a timing assertion: retried forever, the write would end here instead.
                execution_timeout=timedelta(minutes=2),
            )
        except WorkflowFailureError as err:
            failure = err.cause
        else:
            raise AssertionError("the mirror of an unstorable value succeeded")
    assert isinstance(failure, ActivityError)
    assert failure.retry_state == RetryState.NON_RETRYABLE_FAILURE
    assert isinstance(failure.cause, ApplicationError) and failure.cause.type == DATA_ERROR

"""The API's side of the SequenceWorkflow: start an enrollment, pause/resume/stop it, act on its task, read its view.

Call these after the request's transaction committed (the enrollment row must exist: the workflow mirrors into it).
Refusals come back as `core.errors.AppError`s: an update the workflow's validator rejects (pause of a paused
enrollment, completing a task twice) is a Conflict (409) with the workflow's reason; an enrollment without a workflow
is a NotFound; an unreachable Temporal or a missing worker is a ServiceUnavailable after a bounded wait.
"""

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError, Conflict, NotFound, ServiceUnavailable
from workflow_clients.sequence import (
    lead_fields,
    lead_timezone,
    sequence_workflow_input,
    start_enrollment,
)
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import (
    ENROLLMENT_NOT_ACTIVE,
    TASK_NOT_OPEN,
    EnrollmentControl,
    EnrollmentView,
    TaskAction,
    enrollment_workflow_id,
)

__all__ = [
    "complete_task",
    "enrollment_workflow_id",
    "get_enrollment_view",
    "lead_fields",
    "lead_timezone",
    "pause_enrollment",
    "resume_enrollment",
    "sequence_workflow_input",
    "skip_task",
    "start_enrollment",
    "stop_enrollment",
]

ANSWER_WITHIN = timedelta(seconds=10)


def _handle(client: Client, tenant_slug: str, enrollment_id: uuid.UUID) -> WorkflowHandle[SequenceWorkflow, Any]:
    return client.get_workflow_handle_for(SequenceWorkflow.run, enrollment_workflow_id(tenant_slug, str(enrollment_id)))


async def pause_enrollment(
    client: Client, *, tenant_slug: str, enrollment_id: uuid.UUID, actor: str, reason: str | None = None
) -> EnrollmentView:
    """Hold the enrollment before its next action; Conflict unless it is active."""
    return await _control(client, tenant_slug, enrollment_id, SequenceWorkflow.pause, actor, reason)


async def resume_enrollment(
    client: Client, *, tenant_slug: str, enrollment_id: uuid.UUID, actor: str, reason: str | None = None
) -> EnrollmentView:
    """Go on from where it was held (a step due meanwhile acts now, inside business hours); Conflict unless paused."""
    return await _control(client, tenant_slug, enrollment_id, SequenceWorkflow.resume, actor, reason)


async def stop_enrollment(
    client: Client, *, tenant_slug: str, enrollment_id: uuid.UUID, actor: str, reason: str | None = None
) -> EnrollmentView:
    """End the enrollment now (status stopped; an open task is cancelled); Conflict when it already ended."""
    return await _control(client, tenant_slug, enrollment_id, SequenceWorkflow.stop, actor, reason)


async def complete_task(
    client: Client,
    *,
    tenant_slug: str,
    enrollment_id: uuid.UUID,
    task_id: uuid.UUID,
    actor: str,
    note: str | None = None,
) -> EnrollmentView:
    """Tell the waiting enrollment its task is done; Conflict when the task is not open (e.g. completed before)."""
    action = TaskAction(task_id=task_id, actor=actor, note=note)
    return await _update(client, tenant_slug, enrollment_id, SequenceWorkflow.complete_task, action)


async def skip_task(
    client: Client,
    *,
    tenant_slug: str,
    enrollment_id: uuid.UUID,
    task_id: uuid.UUID,
    actor: str,
    note: str | None = None,
) -> EnrollmentView:
    """Tell the waiting enrollment its task was skipped; the sequence goes on. Conflict when it is not open."""
    action = TaskAction(task_id=task_id, actor=actor, note=note)
    return await _update(client, tenant_slug, enrollment_id, SequenceWorkflow.skip_task, action)


async def get_enrollment_view(
    client: Client, *, tenant_slug: str, enrollment_id: uuid.UUID, answer_within: timedelta = ANSWER_WITHIN
) -> EnrollmentView:
    """The workflow's view (also of an ended enrollment): current step, next action, exit reason, step history."""
    try:
        return await _handle(client, tenant_slug, enrollment_id).query(SequenceWorkflow.view, rpc_timeout=answer_within)
    except RPCError as exc:
        raise _rpc_error(exc, enrollment_id) from exc
    except WorkflowQueryFailedError as exc:
        raise ServiceUnavailable(f"the enrollment's workflow could not answer: {exc.message}") from exc


async def _control(
    client: Client, tenant_slug: str, enrollment_id: uuid.UUID, update: Any, actor: str, reason: str | None
) -> EnrollmentView:
    return await _update(client, tenant_slug, enrollment_id, update, EnrollmentControl(actor=actor, reason=reason))


async def _update(client: Client, tenant_slug: str, enrollment_id: uuid.UUID, update: Any, arg: Any) -> EnrollmentView:
    handle = _handle(client, tenant_slug, enrollment_id)
    try:
        result: EnrollmentView = await handle.execute_update(update, arg, rpc_timeout=ANSWER_WITHIN)
        return result
    except WorkflowUpdateFailedError as exc:
        raise _refused(exc, enrollment_id) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise ServiceUnavailable(
            "the enrollment's workflow did not answer in time; the change may still apply, so check the enrollment",
            details={"enrollment_id": str(enrollment_id)},
            headers={"Retry-After": "5"},
        ) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and await _has_ended(handle):
            raise Conflict(
                f"enrollment {enrollment_id} already ended; it can no longer change",
                details={"enrollment_id": str(enrollment_id)},
            ) from exc
        raise _rpc_error(exc, enrollment_id) from exc


async def _has_ended(handle: WorkflowHandle[SequenceWorkflow, Any]) -> bool:
    """An update to a closed workflow answers NOT_FOUND: tell "ended" (409) from "never started" (404)."""
    try:
        description = await handle.describe(rpc_timeout=ANSWER_WITHIN)
    except RPCError:
        return False
    return description.close_time is not None


def _refused(exc: WorkflowUpdateFailedError, enrollment_id: uuid.UUID) -> AppError:
    cause = exc.cause
    details = {"enrollment_id": str(enrollment_id)}
    if isinstance(cause, ApplicationError) and cause.type in (ENROLLMENT_NOT_ACTIVE, TASK_NOT_OPEN):
        return Conflict(cause.message, details=details)
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return ServiceUnavailable(f"the change was not applied: {message}", details=details)


def _rpc_error(exc: RPCError, enrollment_id: uuid.UUID) -> AppError:
    details = {"enrollment_id": str(enrollment_id)}
    if exc.status == RPCStatusCode.NOT_FOUND:
        return NotFound(f"enrollment {enrollment_id} has no workflow", details=details)
    return ServiceUnavailable("the enrollment's workflow could not be reached; try again", details=details)

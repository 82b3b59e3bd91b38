"""The API's side of the SequenceWorkflow: start an enrollment, pause/resume/stop it, act on its task, read its view.

Call these after the request's transaction committed (the enrollment row must exist: the workflow mirrors into it).
Refusals come back as `core.errors.AppError`s: an update the workflow's validator rejects (pause of a paused
enrollment, completing a task twice) is a Conflict (409) with the workflow's reason; an enrollment without a workflow
is a NotFound; an unreachable Temporal or a missing worker is a ServiceUnavailable after a bounded wait.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.config import Settings
from core.errors import AppError, Conflict, NotFound, ServiceUnavailable
from core.phone import timezone_for_phone
from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from domain.sequences.definition import SequenceDefinition
from domain.stages import Stage
from models import Enrollment, Lead, SequenceVersion, Tenant
from workflows import search_attributes
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import (
    ENROLLMENT_NOT_ACTIVE,
    TASK_NOT_OPEN,
    EnrollmentControl,
    EnrollmentStatus,
    EnrollmentView,
    SequenceWorkflowInput,
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


def lead_fields(lead: Lead) -> dict[str, Any]:
    """The values `{{variables}}` render from (domain/sequences/variables.py), frozen into the enrollment."""
    first, _, last = (lead.name or "").strip().partition(" ")
    return {
        "first_name": first or None,
        "last_name": last.strip() or None,
        "name": lead.name or None,
        "phone": lead.phone,
        "email": lead.email,
        "custom": dict(lead.custom_fields or {}),
    }


def lead_timezone(lead: Lead, tenant: Tenant, definition: SequenceDefinition) -> str:
    """The lead's zone from its phone number; else the sequence's fallback zone, else the tenant's."""
    return timezone_for_phone(lead.phone, fallback=definition.settings.fallback_timezone or tenant.timezone)


def sequence_workflow_input(
    *,
    tenant: Tenant,
    lead: Lead,
    enrollment: Enrollment,
    version: SequenceVersion,
    status_stages: Mapping[str, Stage | str],
    settings: Settings,
    start_at: datetime | None = None,
) -> SequenceWorkflowInput:
    """Everything the enrollment runs on, frozen now: the version's definition, the lead's fields and zone."""
    definition = SequenceDefinition.model_validate(version.definition)
    return SequenceWorkflowInput(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        lead_id=lead.id,
        enrollment_id=enrollment.id,
        sequence_id=enrollment.sequence_id,
        sequence_version_id=version.id,
        sequence_version=version.version,
        definition=definition,
        lead_fields=lead_fields(lead),
        lead_owner_id=lead.owner_id,
        lead_timezone=lead_timezone(lead, tenant, definition),
        tenant_timezone=tenant.timezone,
        status_stages={key: Stage(stage) for key, stage in status_stages.items()},
        enrolled_by=enrollment.enrolled_by,
        start_at=start_at,
        max_history_events=settings.sequence_workflow_max_history_events,
    )


async def start_enrollment(
    client: Client,
    *,
    tenant: Tenant,
    lead: Lead,
    enrollment: Enrollment,
    version: SequenceVersion,
    status_stages: Mapping[str, Stage | str],
    settings: Settings,
    start_at: datetime | None = None,
) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
    """Start the enrollment's workflow (id `enrollment:{tenant_slug}:{enrollment_id}`), or return the running one."""
    data = sequence_workflow_input(
        tenant=tenant,
        lead=lead,
        enrollment=enrollment,
        version=version,
        status_stages=status_stages,
        settings=settings,
        start_at=start_at,
    )
    try:
        return await client.start_workflow(
            SequenceWorkflow.run,
            data,
            id=enrollment_workflow_id(tenant.slug, str(enrollment.id)),
            task_queue=LEADS_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(search_attributes.TENANT_ID, str(tenant.id)),
                    SearchAttributePair(search_attributes.LEAD_ID, str(lead.id)),
                    SearchAttributePair(search_attributes.SEQUENCE_ID, str(enrollment.sequence_id)),
                    SearchAttributePair(search_attributes.ENROLLMENT_STATUS, EnrollmentStatus.ACTIVE.value),
                ]
            ),
            static_summary=f"Sequence {enrollment.sequence_id} v{version.version} for lead {lead.name or lead.phone}",
            rpc_timeout=WORKFLOW_START_TIMEOUT,
        )
    except RPCError as exc:
        raise ServiceUnavailable(
            "the enrollment's workflow could not be started; try again",
            details={"enrollment_id": str(enrollment.id)},
            headers={"Retry-After": "5"},
        ) from exc


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

"""The API's side of the LeadWorkflow: start it, change a lead's status through it, read its view.

Call these after the request's transaction committed (the workflow reads and writes the lead row). Failures come back
as `core.errors.AppError`s a person can act on: a refused transition is a Conflict carrying the workflow's reason.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.config import Settings
from core.errors import AppError, Conflict, NotFound, ServiceUnavailable
from core.queues import LEADS_QUEUE
from domain.stages import Stage
from models import Lead, StatusDefinition, Tenant
from workflow_clients.lead import (
    display_name,
    lead_search_attributes,
    lead_workflow_input,
    signal_lead_workflow_with_start,
    start_lead_workflow,
)
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import (
    INVALID_TRANSITION,
    LEAD_GONE,
    LeadDetailsChange,
    LeadView,
    StatusChangeRequest,
)

__all__ = [
    "CREATE_RETRY_WINDOW",
    "change_lead_status",
    "get_lead_view",
    "lead_search_attributes",
    "lead_start_operation",
    "lead_workflow_id",
    "lead_workflow_input",
    "refresh_lead_details",
    "signal_lead_workflow_with_start",
    "start_lead_workflow",
]

log = logging.getLogger(__name__)

# A create or import retried after its workflows failed to start comes within this (a retry comes within minutes,
# Temporal's retention of closed workflows takes days): an older lead is taken to have had its workflow.
CREATE_RETRY_WINDOW = timedelta(hours=1)


def lead_start_operation(
    *, tenant: Tenant, lead: Lead, settings: Settings, active_enrollments: Sequence[str] = ()
) -> WithStartWorkflowOperation[LeadWorkflow, LeadView]:
    """Update-with-start's start half: the running workflow if there is one, otherwise a fresh run from the row
    (also after an earlier run ended, e.g. a won lead being reopened)."""
    return WithStartWorkflowOperation(
        LeadWorkflow.run,
        lead_workflow_input(tenant=tenant, lead=lead, settings=settings, active_enrollments=active_enrollments),
        id=lead_workflow_id(tenant.slug, str(lead.id)),
        task_queue=LEADS_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=lead_search_attributes(tenant=tenant, lead=lead),
        memo={"display_name": display_name(lead)},
        static_summary=f"Lead {display_name(lead)} of {tenant.slug}",
    )


async def change_lead_status(
    client: Client,
    *,
    tenant: Tenant,
    lead: Lead,
    status: StatusDefinition,
    actor: str,
    reason: str | None = None,
    settings: Settings,
    active_enrollments: Sequence[str] = (),
) -> LeadView:
    """Ask the lead's workflow to move to `status`; its view afterwards. Conflict with the reason when refused.

    Update-with-start: a lead whose workflow has ended (won, lost, or never started after a failed start) gets a fresh
    run from its committed row, so reopening a won or lost lead works like any other change.
    """
    request = StatusChangeRequest(status_key=status.key, stage=Stage(status.stage), actor=actor, reason=reason)
    start = lead_start_operation(tenant=tenant, lead=lead, settings=settings, active_enrollments=active_enrollments)
    try:
        return await client.execute_update_with_start_workflow(
            LeadWorkflow.change_status,
            request,
            start_workflow_operation=start,
            rpc_timeout=timedelta(seconds=settings.lead_status_change_timeout_seconds),
        )
    except WorkflowUpdateFailedError as exc:
        raise _update_refused(exc, lead_id=lead.id, status_key=status.key) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        log.warning("status change of lead %s: no answer from its workflow in time", lead.id)
        raise ServiceUnavailable(
            "the lead's workflow did not answer in time; the change may still be applied shortly, "
            "so check the lead's status before sending it again",
            details={"lead_id": str(lead.id), "status": status.key},
            headers={"Retry-After": "5"},
        ) from exc
    except RPCError as exc:
        log.warning("status change of lead %s: Temporal answered %s", lead.id, exc)
        raise ServiceUnavailable(
            "the lead's workflow could not be reached, so its status may not have changed; check the lead and retry",
            details={"lead_id": str(lead.id)},
            headers={"Retry-After": "5"},
        ) from exc


def _update_refused(exc: WorkflowUpdateFailedError, *, lead_id: uuid.UUID, status_key: str) -> AppError:
    cause = exc.cause
    details = {"lead_id": str(lead_id), "status": status_key}
    if isinstance(cause, ApplicationError) and cause.type == INVALID_TRANSITION:
        return Conflict(cause.message, details=details)
    if isinstance(cause, ApplicationError) and cause.type == LEAD_GONE:
        return NotFound(f"lead {lead_id} not found", details={"lead_id": str(lead_id)})
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return ServiceUnavailable(f"the status change was not applied: {message}", details=details)


async def get_lead_view(
    client: Client, *, tenant_slug: str, lead_id: uuid.UUID, answer_within: timedelta = timedelta(seconds=10)
) -> LeadView:
    """The workflow's view of the lead (also of a finished workflow); NotFound when the lead never had one.

    A query needs a worker to answer: with none, it fails after `answer_within` (ServiceUnavailable), never hangs.
    """
    handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant_slug, str(lead_id)))
    try:
        return await handle.query(LeadWorkflow.view, rpc_timeout=answer_within)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(
                f"lead {lead_id} has no workflow; it was never started (create the lead again to start it)",
                details={"lead_id": str(lead_id)},
            ) from exc
        raise ServiceUnavailable("the lead's workflow could not be reached; try again") from exc
    except WorkflowQueryFailedError as exc:
        raise ServiceUnavailable(f"the lead's workflow could not answer: {exc.message}") from exc


async def refresh_lead_details(client: Client, *, tenant: Tenant, lead: Lead) -> bool:
    """Tell the lead's running workflow its name or owner changed (memo, AssignedAgent); False if none is running."""
    handle = client.get_workflow_handle(lead_workflow_id(tenant.slug, str(lead.id)))
    try:
        await handle.signal(
            LeadWorkflow.refresh_details, LeadDetailsChange(display_name=display_name(lead), owner_id=lead.owner_id)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # never started, or ended (terminal): nothing to refresh
            return False
        raise ServiceUnavailable("the lead's workflow could not be reached; try again") from exc
    return True

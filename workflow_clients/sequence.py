"""Starting a SequenceWorkflow from outside Temporal: the API's helpers and the job activities (bulk starts, the
sweeper) share these.

Call them after the transaction that wrote the enrollment row committed: the workflow mirrors into it.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.config import Settings
from core.errors import ServiceUnavailable
from core.phone import timezone_for_phone
from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from domain.sequences.definition import SequenceDefinition
from domain.stages import Stage
from models import Enrollment, Lead, SequenceVersion, Tenant
from workflows import search_attributes
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentStatus, EnrollmentView, SequenceWorkflowInput, enrollment_workflow_id


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
    """Start the enrollment's workflow (id `enrollment:{tenant_slug}:{enrollment_id}`), or return the running one, or
    the one that already ran: an enrollment runs once, so a repeated start (a retried job chunk) never re-runs it."""
    data = sequence_workflow_input(
        tenant=tenant,
        lead=lead,
        enrollment=enrollment,
        version=version,
        status_stages=status_stages,
        settings=settings,
        start_at=start_at,
    )
    workflow_id = enrollment_workflow_id(tenant.slug, str(enrollment.id))
    try:
        return await client.start_workflow(
            SequenceWorkflow.run,
            data,
            id=workflow_id,
            task_queue=LEADS_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
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
    except WorkflowAlreadyStartedError:  # it ran and ended
        return client.get_workflow_handle_for(SequenceWorkflow.run, workflow_id)
    except RPCError as exc:
        raise ServiceUnavailable(
            "the enrollment's workflow could not be started; try again",
            details={"enrollment_id": str(enrollment.id)},
            headers={"Retry-After": "5"},
        ) from exc

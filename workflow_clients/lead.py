"""Starting and signalling the LeadWorkflow from outside Temporal: the API, the webhook dispatcher and the job
activities (bulk starts, the sweeper) share these.

Call them after the transaction that wrote the lead committed: the workflow starts from the committed row.
"""

from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from core.config import Settings
from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from domain.stages import Stage
from models import Lead, Tenant
from workflows import search_attributes
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import LeadView, LeadWorkflowInput


def display_name(lead: Lead) -> str:
    return lead.name or lead.phone


def lead_workflow_input(
    *, tenant: Tenant, lead: Lead, settings: Settings, active_enrollments: Sequence[str] = ()
) -> LeadWorkflowInput:
    """The lead as committed plus the tenant's settings: everything the workflow needs without reading the DB.

    `active_enrollments`: the workflow ids of the lead's open enrollments, for a run that may start after an earlier
    one ended (a won lead replying, a lost lead reopened): it must tell them about replies and status changes too.
    """
    return LeadWorkflowInput(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        lead_id=lead.id,
        display_name=display_name(lead),
        owner_id=lead.owner_id,
        status_key=lead.status_key,
        stage=Stage(lead.stage),
        lead_created_at=lead.created_at,
        speed_to_lead_minutes=tenant.speed_to_lead_minutes,
        max_history_events=settings.lead_workflow_max_history_events,
        active_enrollments=tuple(active_enrollments),
    )


def lead_search_attributes(*, tenant: Tenant, lead: Lead) -> TypedSearchAttributes:
    """What ops search a lead's workflow by (workflows/search_attributes.py), from the committed row."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.TENANT_ID, str(tenant.id)),
            SearchAttributePair(search_attributes.LEAD_ID, str(lead.id)),
            SearchAttributePair(search_attributes.LEAD_STATUS, lead.status_key),
            SearchAttributePair(search_attributes.ASSIGNED_AGENT, str(lead.owner_id) if lead.owner_id else ""),
        ]
    )


async def signal_lead_workflow_with_start(
    client: Client,
    *,
    tenant: Tenant,
    lead: Lead,
    settings: Settings,
    signal: str,
    arg: Any,
    active_enrollments: Sequence[str] = (),
) -> None:
    """Signal-with-start: the lead's running workflow gets the signal; a lead without one (new, or its run ended)
    gets a fresh run from its committed row, which then receives it."""
    await client.start_workflow(
        LeadWorkflow.run,
        lead_workflow_input(tenant=tenant, lead=lead, settings=settings, active_enrollments=active_enrollments),
        id=lead_workflow_id(tenant.slug, str(lead.id)),
        task_queue=LEADS_QUEUE,
        start_signal=signal,
        start_signal_args=[arg],
        search_attributes=lead_search_attributes(tenant=tenant, lead=lead),
        memo={"display_name": display_name(lead)},
        static_summary=f"Lead {display_name(lead)} of {tenant.slug}",
        rpc_timeout=WORKFLOW_START_TIMEOUT,
    )


async def start_lead_workflow(
    client: Client, *, tenant: Tenant, lead: Lead, settings: Settings
) -> WorkflowHandle[LeadWorkflow, LeadView]:
    """Start the lead's workflow, or return the running one: a retried request never starts a second."""
    return await client.start_workflow(
        LeadWorkflow.run,
        lead_workflow_input(tenant=tenant, lead=lead, settings=settings),
        id=lead_workflow_id(tenant.slug, str(lead.id)),
        task_queue=LEADS_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=lead_search_attributes(tenant=tenant, lead=lead),
        memo={"display_name": display_name(lead)},
        static_summary=f"Lead {display_name(lead)} of {tenant.slug}",
        rpc_timeout=WORKFLOW_START_TIMEOUT,
    )

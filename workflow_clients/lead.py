"""The LeadWorkflow seen from outside Temporal: the API, the webhook dispatcher and the job activities (bulk starts,
the sweeper) reach it only through `LeadWorkflowClient`.

Call it after the transaction that wrote the lead committed: the workflow starts from the committed row. Failures
come back as `core.errors.AppError`s (workflow_clients/errors.py): a refused transition is a Conflict carrying the
workflow's reason, an unreachable Temporal a ServiceUnavailable.
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from core.config import Settings
from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from domain.stages import Stage
from domain.whatsapp_messages import ManualWhatsAppMessage, SendWhatsAppResult
from models import Lead, StatusDefinition, Tenant
from workflow_clients.errors import WorkflowCall, is_not_found, translated
from workflow_clients.inputs import lead_identity
from workflows import search_attributes
from workflows.ai_types import DraftDecision, DraftOutcome, HandlerRequest
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import LeadDetailsChange, LeadView, LeadWorkflowInput, StatusChangeRequest

VIEW_WITHIN = timedelta(seconds=10)


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
        **lead_identity(tenant, lead),
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


def _call(lead_id: uuid.UUID, **details: Any) -> WorkflowCall:
    return WorkflowCall(
        workflow="the lead's workflow", entity=f"lead {lead_id}", details={"lead_id": str(lead_id), **details}
    )


class LeadWorkflowClient:
    """Start, signal, update and read one lead's workflow (id `lead:{tenant_slug}:{lead_id}`)."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def _start_options(self, *, tenant: Tenant, lead: Lead) -> dict[str, Any]:
        return {
            "id": lead_workflow_id(tenant.slug, str(lead.id)),
            "task_queue": LEADS_QUEUE,
            "search_attributes": lead_search_attributes(tenant=tenant, lead=lead),
            "memo": {"display_name": display_name(lead)},
            "static_summary": f"Lead {display_name(lead)} of {tenant.slug}",
        }

    def _input(self, tenant: Tenant, lead: Lead, active_enrollments: Sequence[str] = ()) -> LeadWorkflowInput:
        return lead_workflow_input(
            tenant=tenant, lead=lead, settings=self.settings, active_enrollments=active_enrollments
        )

    async def start(self, *, tenant: Tenant, lead: Lead) -> WorkflowHandle[LeadWorkflow, LeadView]:
        """Start the lead's workflow, or return the running one: a retried request never starts a second."""
        async with translated(_call(lead.id)):
            return await self.client.start_workflow(
                LeadWorkflow.run,
                self._input(tenant, lead),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                rpc_timeout=WORKFLOW_START_TIMEOUT,
                **self._start_options(tenant=tenant, lead=lead),
            )

    async def exists(self, *, tenant_slug: str, lead_id: uuid.UUID) -> bool:
        """Whether Temporal knows the lead's workflow, running or closed (until the namespace's retention ends)."""
        handle = self.client.get_workflow_handle(lead_workflow_id(tenant_slug, str(lead_id)))
        try:
            async with translated(_call(lead_id)):
                await handle.describe()
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        return True

    async def signal_with_start(
        self, *, tenant: Tenant, lead: Lead, signal: str, arg: Any, active_enrollments: Sequence[str] = ()
    ) -> None:
        """The lead's running workflow gets the signal; a lead without one (new, or its run ended) gets a fresh run
        from its committed row, which then receives it."""
        async with translated(_call(lead.id)):
            await self.client.start_workflow(
                LeadWorkflow.run,
                self._input(tenant, lead, active_enrollments),
                start_signal=signal,
                start_signal_args=[arg],
                rpc_timeout=WORKFLOW_START_TIMEOUT,
                **self._start_options(tenant=tenant, lead=lead),
            )

    def _start_operation(
        self, *, tenant: Tenant, lead: Lead, active_enrollments: Sequence[str]
    ) -> WithStartWorkflowOperation[LeadWorkflow, LeadView]:
        """Update-with-start's start half: the running workflow if there is one, otherwise a fresh run from the row
        (also after an earlier run ended, e.g. a won lead being reopened)."""
        return WithStartWorkflowOperation(
            LeadWorkflow.run,
            self._input(tenant, lead, active_enrollments),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            **self._start_options(tenant=tenant, lead=lead),
        )

    async def change_status(
        self,
        *,
        tenant: Tenant,
        lead: Lead,
        status: StatusDefinition,
        actor: str,
        reason: str | None = None,
        active_enrollments: Sequence[str] = (),
    ) -> LeadView:
        """Ask the lead's workflow to move to `status`; its view afterwards. Conflict with the reason when refused.

        Update-with-start: a lead whose workflow has ended (won, lost, or never started after a failed start) gets a
        fresh run from its committed row, so reopening a won or lost lead works like any other change.
        """
        request = StatusChangeRequest(status_key=status.key, stage=Stage(status.stage), actor=actor, reason=reason)
        call = WorkflowCall(
            workflow="the lead's workflow",
            entity=f"lead {lead.id}",
            details={"lead_id": str(lead.id), "status": status.key},
            not_applied="the status change was not applied",
            if_unanswered="the change may still be applied shortly, so check the lead's status before sending it again",
            if_unreachable="its status may not have changed; check the lead and retry",
        )
        timeout = timedelta(seconds=self.settings.lead_status_change_timeout_seconds)
        return await self._update_with_start(
            LeadWorkflow.change_status, request, call, tenant, lead, active_enrollments, timeout
        )

    async def send_message(
        self, *, tenant: Tenant, lead: Lead, request: ManualWhatsAppMessage, active_enrollments: Sequence[str] = ()
    ) -> SendWhatsAppResult:
        """An agent's message, sent once per `request.request_id` by the lead's workflow (update-with-start)."""
        call = WorkflowCall(
            workflow="the lead's workflow",
            entity=f"lead {lead.id}",
            details={"lead_id": str(lead.id), "request_id": request.request_id},
            not_applied="the message was not sent (send the same request_id again to retry)",
            if_unanswered="the message may still go out, so send the same request_id again to get it "
            "(it never sends twice)",
            if_unreachable="send the same request_id again (it never sends twice)",
        )
        return await self._update_with_start(
            LeadWorkflow.send_whatsapp_message, request, call, tenant, lead, active_enrollments
        )

    async def _update_with_start(
        self,
        update: Any,
        arg: Any,
        call: WorkflowCall,
        tenant: Tenant,
        lead: Lead,
        active_enrollments: Sequence[str],
        rpc_timeout: timedelta | None = None,
    ) -> Any:
        start = self._start_operation(tenant=tenant, lead=lead, active_enrollments=active_enrollments)
        async with translated(call):
            return await self.client.execute_update_with_start_workflow(
                update, arg, start_workflow_operation=start, rpc_timeout=rpc_timeout
            )

    async def decide_ai_draft(self, *, tenant_slug: str, lead_id: uuid.UUID, decision: DraftDecision) -> DraftOutcome:
        """Approve (maybe edited) or reject the lead's waiting AI draft; Conflict when it no longer waits or the
        approved reply could not be sent (window closed, opted out)."""
        call = WorkflowCall(
            workflow="the lead's workflow",
            entity=f"lead {lead_id}",
            details={"lead_id": str(lead_id), "draft_id": str(decision.draft_id)},
            not_applied="the draft was not decided",
            if_unanswered="the decision may still apply, so check the draft before deciding again",
        )
        handle = self.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant_slug, str(lead_id)))
        async with translated(call, handle=handle):
            return await handle.execute_update(LeadWorkflow.decide_ai_draft, decision, rpc_timeout=VIEW_WITHIN * 3)

    async def set_conversation_handler(
        self, *, tenant_slug: str, lead_id: uuid.UUID, request: HandlerRequest
    ) -> LeadView:
        """Hand the lead's conversation to the AI agent or take it over; the workflow's view afterwards."""
        handle = self.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant_slug, str(lead_id)))
        async with translated(_call(lead_id), handle=handle):
            return await handle.execute_update(LeadWorkflow.set_conversation_handler, request, rpc_timeout=VIEW_WITHIN)

    async def refresh_details(self, *, tenant: Tenant, lead: Lead) -> bool:
        """Tell the lead's running workflow its name or owner changed (memo, AssignedAgent); False if none runs."""
        handle = self.client.get_workflow_handle(lead_workflow_id(tenant.slug, str(lead.id)))
        change = LeadDetailsChange(display_name=display_name(lead), owner_id=lead.owner_id)
        try:
            async with translated(_call(lead.id)):
                await handle.signal(LeadWorkflow.refresh_details, change)
        except Exception as exc:
            if is_not_found(exc):  # never started, or ended (terminal): nothing to refresh
                return False
            raise
        return True

    async def view(self, *, tenant_slug: str, lead_id: uuid.UUID, answer_within: timedelta = VIEW_WITHIN) -> LeadView:
        """The workflow's view of the lead (also of a finished workflow); NotFound when the lead never had one.

        A query needs a worker to answer: with none, it fails after `answer_within` (ServiceUnavailable), never hangs.
        """
        call = WorkflowCall(
            workflow="the lead's workflow",
            entity=f"lead {lead_id}",
            details={"lead_id": str(lead_id)},
            if_never_started="; it was never started (create the lead again to start it)",
        )
        handle = self.client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant_slug, str(lead_id)))
        async with translated(call):
            return await handle.query(LeadWorkflow.view, rpc_timeout=answer_within)

    async def terminate(self, *, workflow_id: str, lead_id: uuid.UUID, reason: str) -> None:
        """End a workflow of the lead (its own or an enrollment's); one already closed or never started is fine."""
        call = WorkflowCall(
            workflow="the lead's workflows",
            entity=f"lead {lead_id}",
            details={"lead_id": str(lead_id), "workflow_id": workflow_id},
            if_unreachable="nothing was deleted; try again",
        )
        try:
            async with translated(call):
                await self.client.get_workflow_handle(workflow_id).terminate(reason=reason)
        except Exception as exc:
            if not is_not_found(exc):
                raise

"""The SequenceWorkflow seen from outside Temporal: the API and the job activities (bulk starts, the sweeper) reach
an enrollment's workflow only through `SequenceWorkflowClient`.

Start it after the transaction that wrote the enrollment row committed: the workflow mirrors into it. Refusals come
back as `core.errors.AppError`s (workflow_clients/errors.py): an update the workflow's validator rejects (pause of a
paused enrollment, completing a task twice) is a Conflict with the workflow's reason; an enrollment without a
workflow is a NotFound, one whose workflow ended a Conflict; an unreachable Temporal a ServiceUnavailable.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partialmethod
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.config import Settings
from core.phone import timezone_for_phone
from core.queues import SEQUENCES_QUEUE, WORKFLOW_START_TIMEOUT
from domain.sequences.definition import SequenceDefinition
from domain.stages import Stage
from models import Enrollment, Lead, SequenceVersion, Tenant
from workflow_clients.errors import WorkflowCall, translated
from workflow_clients.inputs import lead_identity
from workflows import search_attributes
from workflows.ai_types import DraftDecision, DraftOutcome
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import (
    EnrollmentControl,
    EnrollmentStatus,
    EnrollmentView,
    SequenceWorkflowInput,
    TaskAction,
    enrollment_workflow_id,
)


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
        **lead_identity(tenant, lead),
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
        scheduled_sends=settings.sequence_scheduled_sends,
    )


ANSWER_WITHIN = timedelta(seconds=10)
# An enrollment's workflow task times out after this (Temporal's default is 10 s, as long as ANSWER_WITHIN). The bulk
# worker keeps no workflow cache, and the SDK can drop a task that arrives while it evicts the run ("leftover
# buffered tasks when evicting run"): the server hands it out again only when the task times out, so a pause or stop
# behind it answered 503 at 10 s. A task of this workflow is a replay of a short history: milliseconds.
TASK_TIMEOUT = timedelta(seconds=4)


def _call(enrollment_id: uuid.UUID) -> WorkflowCall:
    return WorkflowCall(
        workflow="the enrollment's workflow",
        entity=f"enrollment {enrollment_id}",
        details={"enrollment_id": str(enrollment_id)},
        if_unanswered="the change may still apply, so check the enrollment",
    )


@dataclass
class SequenceWorkflowClient:
    """Start, control and read one enrollment's workflow (id `enrollment:{tenant_slug}:{enrollment_id}`)."""

    client: Client
    settings: Settings

    async def start(
        self,
        *,
        tenant: Tenant,
        lead: Lead,
        enrollment: Enrollment,
        version: SequenceVersion,
        status_stages: Mapping[str, Stage | str],
        start_at: datetime | None = None,
        task_queue: str = SEQUENCES_QUEUE,
    ) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
        """Start the enrollment's workflow, or return the running one, or the one that already ran: an enrollment
        runs once, so a repeated start (a retried job chunk) never re-runs it. `task_queue`: the bulk queue (tests
        name a queue of their own)."""
        data = sequence_workflow_input(tenant, lead, enrollment, version, status_stages, self.settings, start_at)
        workflow_id = enrollment_workflow_id(tenant.slug, str(enrollment.id))
        try:
            async with translated(_call(enrollment.id)):
                return await self.client.start_workflow(
                    SequenceWorkflow.run,
                    data,
                    id=workflow_id,
                    # The bulk queue: an enrollment's due steps come in bursts, which must not wait ahead of replies.
                    task_queue=task_queue,
                    # Fair between tenants: one tenant's burst does not queue ahead of another's due step.
                    priority=Priority(fairness_key=str(tenant.id)),
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
                    static_summary=f"Sequence {enrollment.sequence_id} v{version.version} for lead "
                    f"{lead.name or lead.phone}",
                    task_timeout=TASK_TIMEOUT,
                    rpc_timeout=WORKFLOW_START_TIMEOUT,
                )
        except WorkflowAlreadyStartedError:  # it ran and ended
            return self.client.get_workflow_handle_for(SequenceWorkflow.run, workflow_id)

    def _handle(self, tenant_slug: str, enrollment_id: uuid.UUID) -> WorkflowHandle[SequenceWorkflow, Any]:
        return self.client.get_workflow_handle_for(
            SequenceWorkflow.run, enrollment_workflow_id(tenant_slug, str(enrollment_id))
        )

    async def _update(self, tenant_slug: str, enrollment_id: uuid.UUID, update: Any, arg: Any) -> EnrollmentView:
        handle = self._handle(tenant_slug, enrollment_id)
        async with translated(_call(enrollment_id), handle=handle):
            result: EnrollmentView = await handle.execute_update(update, arg, rpc_timeout=ANSWER_WITHIN)
            return result

    async def _control(
        self, update: Any, *, tenant_slug: str, enrollment_id: uuid.UUID, actor: str, reason: str | None = None
    ) -> EnrollmentView:
        return await self._update(tenant_slug, enrollment_id, update, EnrollmentControl(actor=actor, reason=reason))

    # Hold the enrollment before its next action; Conflict unless it is active.
    pause = partialmethod(_control, SequenceWorkflow.pause)
    # Go on from where it was held (a step due meanwhile acts now, inside business hours); Conflict unless paused.
    resume = partialmethod(_control, SequenceWorkflow.resume)
    # End the enrollment now (status stopped; an open task is cancelled); Conflict when it already ended.
    stop = partialmethod(_control, SequenceWorkflow.stop)

    async def _act_on_task(
        self,
        update: Any,
        *,
        tenant_slug: str,
        enrollment_id: uuid.UUID,
        task_id: uuid.UUID,
        actor: str,
        note: str | None = None,
        outcome: str | None = None,
    ) -> EnrollmentView:
        action = TaskAction(task_id=task_id, actor=actor, note=note, outcome=outcome)
        return await self._update(tenant_slug, enrollment_id, update, action)

    # Tell the waiting enrollment its task is done; Conflict when the task is not open (e.g. completed before).
    complete_task = partialmethod(_act_on_task, SequenceWorkflow.complete_task)
    # Tell the waiting enrollment its task was skipped; the sequence goes on. Conflict when it is not open.
    skip_task = partialmethod(_act_on_task, SequenceWorkflow.skip_task)

    async def view(
        self, *, tenant_slug: str, enrollment_id: uuid.UUID, answer_within: timedelta = ANSWER_WITHIN
    ) -> EnrollmentView:
        """The workflow's view (also of an ended enrollment): current step, next action, exit reason, history."""
        async with translated(_call(enrollment_id)):
            return await self._handle(tenant_slug, enrollment_id).query(
                SequenceWorkflow.view, rpc_timeout=answer_within
            )

    async def decide_ai_draft(self, *, workflow_id: str, decision: DraftDecision) -> DraftOutcome:
        """Approve (maybe edited) or reject the AI draft an `ai_message` step waits on; Conflict when it no longer
        waits or the approved message could not be sent (window closed, opted out)."""
        call = WorkflowCall(
            workflow="the enrollment's workflow",
            entity=f"the enrollment of draft {decision.draft_id}",
            details={"draft_id": str(decision.draft_id)},
            not_applied="the draft was not decided",
            if_unanswered="the decision may still apply, so check the draft before deciding again",
        )
        handle = self.client.get_workflow_handle_for(SequenceWorkflow.run, workflow_id)
        async with translated(call, handle=handle):
            return await handle.execute_update(
                SequenceWorkflow.decide_ai_draft, decision, rpc_timeout=ANSWER_WITHIN * 3
            )

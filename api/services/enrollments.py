"""Enrollment use cases: bulk-enroll leads in a sequence's latest published version, read and control an enrollment.

Bulk enrollment (`enroll`; the job's workflow starts after the request commits):
1. the leads are named by id or by the filters of GET /leads (at most `settings.enrollment_max_leads`);
2. each is skipped with a reason — `not_found` (missing or another tenant's), `opted_out` (stage opted_out),
   `terminal_stage` (the lead is already in one of the version's `exit_on_stages`, e.g. won or lost: it would exit at
   once), `already_enrolled` (an active or paused enrollment of this sequence; the partial unique index decides, so
   two concurrent requests cannot enroll one lead twice);
3. the remaining rows (and a `sequence_enrolled` event on each lead's timeline) are inserted in a few statements,
   each with its first step's time (`start_at` plus the sequence's `send_pacing.per_minute` spread), together with a
   `bulk_enrollment` job over them, and committed BEFORE any workflow starts;
4. the job's workflow (workflows/bulk_start.py) starts their workflows behind the 202, a chunk at a time. An
   already enrolled lead whose workflow never started is started again by the job (the start is idempotent:
   USE_EXISTING) on the version and start time its row was enrolled with, not on a version published since.

Reads answer from the workflow's view while it runs and fall back to the mirrored row when the workflow cannot
answer (ended and gone from retention, or busy). Another tenant's enrollment is a 404.
"""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.base import from_row
from api.schemas.enrollments import (
    EnrollmentPublic,
    EnrollmentStepPublic,
    EnrollmentSummary,
    EnrollReport,
    EnrollRequest,
    LeadEnrollment,
    SkippedLead,
)
from api.services import found
from api.services.jobs import create_job, job_public
from api.services.leads import list_leads
from api.services.sequences import get_sequence
from api.transaction import commit_intent
from core.config import Settings
from core.errors import AppError, Conflict, Unprocessable
from domain.sequences.definition import SequenceDefinition
from domain.sequences.schedule import pacing_delay
from domain.stages import Stage
from models import Enrollment, Job, Lead, SequenceVersion, Tenant
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.sequences import SequenceRepository
from repositories.timeline import TimelineRepository
from workflow_clients.jobs import JobWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient
from workflows.job_types import JobKind
from workflows.sequence_types import EnrollmentView, enrollment_workflow_id

log = logging.getLogger(__name__)

_FILTER_PAGE = 1000
ENROLLED_EVENT = "sequence_enrolled"  # on the lead's timeline, written with the enrollment row


class EnrollmentPlan:
    """What `enroll` decided: the new and restarted enrollments, the skipped leads, and the job that starts them."""

    def __init__(self, *, sequence_id: uuid.UUID, version: SequenceVersion, start_at: datetime) -> None:
        self.sequence_id = sequence_id
        self.version = version
        self.start_at = start_at
        self.skipped: list[SkippedLead] = []
        self.enrolled: list[uuid.UUID] = []  # enrollment ids, in enrollment order
        # Already enrolled, workflow never started: started again on the row's own version and start time.
        self.restart: list[uuid.UUID] = []
        self.job: Job | None = None

    def report(self) -> EnrollReport:
        assert self.job is not None, "enroll() creates the job"
        return EnrollReport(
            sequence_id=self.sequence_id,
            version=self.version.version,
            enrolled=len(self.enrolled),
            enrollment_ids=self.enrolled,
            skipped=self.skipped,
            job=job_public(self.job),
        )


async def _leads_of(
    *, session: AsyncSession, tenant: Tenant, data: EnrollRequest, limit: int
) -> tuple[list[Lead], list[uuid.UUID]]:
    """The named leads (tenant-scoped) and the ids that name no lead of this tenant."""
    if data.lead_ids is not None:
        wanted = list(dict.fromkeys(data.lead_ids))
        if len(wanted) > limit:
            raise _too_many(limit)
        found = {lead.id: lead for lead in await LeadRepository(session).get_many(tenant_id=tenant.id, lead_ids=wanted)}
        return [found[i] for i in wanted if i in found], [i for i in wanted if i not in found]
    assert data.filter is not None
    leads: list[Lead] = []
    cursor: str | None = None
    while True:
        page, cursor = await list_leads(
            session=session,
            tenant=tenant,
            limit=_FILTER_PAGE,
            cursor=cursor,
            status=data.filter.status,
            stage=data.filter.stage,
            owner_id=data.filter.owner_id,
            q=data.filter.q,
        )
        leads.extend(page)
        if len(leads) > limit:
            raise _too_many(limit)
        if cursor is None:
            return leads, []


def _too_many(limit: int) -> Unprocessable:
    return Unprocessable(
        f"one request enrolls at most {limit} leads; narrow the filter or send the leads in batches",
        details=[{"field": "lead_ids", "reason": f"more than {limit} leads"}],
    )


async def enroll(
    *,
    session: AsyncSession,
    jobs: JobWorkflowClient,
    tenant: Tenant,
    sequence_id: uuid.UUID,
    data: EnrollRequest,
    actor: str,
    settings: Settings,
) -> EnrollmentPlan:
    """Decide and insert the enrollments and their job; the job's workflow starts after the commit."""
    sequence = await get_sequence(session=session, tenant_id=tenant.id, sequence_id=sequence_id)
    if sequence.status == "archived":
        raise Conflict(
            f"sequence '{sequence.name}' is archived: it takes no new enrollments",
            details={"sequence_id": str(sequence.id)},
        )
    if sequence.latest_version is None:
        raise Conflict(
            f"sequence '{sequence.name}' has never been published; publish it before enrolling leads",
            details={"sequence_id": str(sequence.id)},
        )
    version = await SequenceRepository(session).get_version(
        tenant_id=tenant.id, sequence_id=sequence.id, version=sequence.latest_version
    )
    if version is None:  # latest_version is only set together with the version row
        raise Conflict("the sequence's published version is missing; publish it again")
    definition = SequenceDefinition.model_validate(version.definition)
    plan = EnrollmentPlan(
        sequence_id=sequence.id, version=version, start_at=(data.start_at or datetime.now(UTC)).astimezone(UTC)
    )

    leads, missing = await _leads_of(session=session, tenant=tenant, data=data, limit=settings.enrollment_max_leads)
    plan.skipped.extend(SkippedLead(lead_id=i, reason="not_found") for i in missing)
    exit_stages = {Stage(s) for s in definition.settings.exit_on_stages}
    candidates: list[Lead] = []
    for lead in leads:
        if lead.stage == Stage.OPTED_OUT:
            plan.skipped.append(SkippedLead(lead_id=lead.id, reason="opted_out"))
        elif lead.stage in exit_stages:
            plan.skipped.append(SkippedLead(lead_id=lead.id, reason="terminal_stage"))
        else:
            candidates.append(lead)

    queries = EnrollmentRepository(session)
    open_ones = await queries.open_by_lead(
        tenant_id=tenant.id, sequence_id=sequence.id, lead_ids=[lead.id for lead in candidates]
    )
    rows = []
    new: list[tuple[uuid.UUID, Lead]] = []
    for lead in candidates:
        existing = open_ones.get(lead.id)
        if existing is not None:
            plan.skipped.append(SkippedLead(lead_id=lead.id, reason="already_enrolled", enrollment_id=existing.id))
            if existing.revision == 0 and existing.workflow_started_at is None:  # its workflow may never have started
                plan.restart.append(existing.id)
            continue
        enrollment_id = uuid.uuid4()
        pacing = pacing_delay(len(new), definition.settings.send_pacing.per_minute)
        new.append((enrollment_id, lead))
        rows.append(
            {
                "id": enrollment_id,
                "tenant_id": tenant.id,
                "lead_id": lead.id,
                "sequence_id": sequence.id,
                "sequence_version_id": version.id,
                "workflow_id": enrollment_workflow_id(tenant.slug, str(enrollment_id)),
                "status": "active",
                "enrolled_by": actor,
                "current_step_index": 0,
                # Step 1's time, which the job starts the workflow with (also when it is started again later).
                "next_action_at": plan.start_at + pacing,
            }
        )
    inserted = await queries.insert_skip_open(rows)
    for enrollment_id, lead in new:
        if enrollment_id in inserted:
            plan.enrolled.append(enrollment_id)
        else:  # a concurrent request enrolled this lead between our check and our insert
            plan.skipped.append(SkippedLead(lead_id=lead.id, reason="already_enrolled"))
    await TimelineRepository(session).record_many(
        [
            {
                "tenant_id": tenant.id,
                "lead_id": lead.id,
                "kind": ENROLLED_EVENT,
                "actor": actor,
                "data": {
                    "enrollment_id": str(enrollment_id),
                    "sequence_id": str(sequence.id),
                    "sequence_name": sequence.name,
                    "version": version.version,
                },
                "idempotency_key": f"enrollment:{enrollment_id}:enrolled",
            }
            for enrollment_id, lead in new
            if enrollment_id in inserted
        ]
    )
    plan.job = await create_job(
        session=session,
        jobs=jobs,
        tenant=tenant,
        kind=JobKind.BULK_ENROLLMENT,
        actor=actor,
        skipped=[item.model_dump(mode="json", exclude_none=True) for item in plan.skipped],
        item_ids=plan.enrolled,
        retry_ids=plan.restart,
    )
    return plan


async def list_lead_enrollments(
    *, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int
) -> list[LeadEnrollment]:
    """The lead's enrollments in every sequence, newest first; 404 when the lead is not in this tenant."""
    found(await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id)
    rows = await EnrollmentRepository(session).for_lead(tenant_id=tenant_id, lead_id=lead_id, limit=limit)
    return [
        LeadEnrollment(**_summary_fields(e, version), sequence_id=e.sequence_id, sequence_name=name)
        for e, name, version in rows
    ]


async def list_enrollments(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID, status: str | None, limit: int
) -> list[EnrollmentSummary]:
    """A sequence's enrollments, newest first, as mirrored by their workflows."""
    await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id)
    numbers = {
        v.id: v.version
        for v in await SequenceRepository(session).list_versions(tenant_id=tenant_id, sequence_id=sequence_id)
    }
    rows = await EnrollmentRepository(session).for_sequence(
        tenant_id=tenant_id, sequence_id=sequence_id, status=status, limit=limit
    )
    return [EnrollmentSummary(**_summary_fields(e, numbers.get(e.sequence_version_id, 0))) for e in rows]


def _summary_fields(e: Enrollment, version: int) -> dict[str, Any]:
    """An enrollment row's fields as EnrollmentSummary names them, with its version's number."""
    return {
        "id": e.id,
        "lead_id": e.lead_id,
        "sequence_version": version,
        "status": e.status,
        "current_step_id": e.current_step_id,
        "next_action_at": e.next_action_at,
        "exit_reason": e.exit_reason,
        "replies": e.replies,
        "enrolled_by": e.enrolled_by,
        "started_at": e.started_at,
        "ended_at": e.ended_at,
        "created_at": e.created_at,
    }


# One enrollment -----------------------------------------------------------------------------------------------------


async def get_enrollment(*, session: AsyncSession, tenant_id: uuid.UUID, enrollment_id: uuid.UUID) -> Enrollment:
    enrollment = await EnrollmentRepository(session).get(tenant_id=tenant_id, enrollment_id=enrollment_id, fresh=True)
    return found(enrollment, "enrollment", enrollment_id)


async def _version_number(session: AsyncSession, enrollment: Enrollment) -> int:
    version = await SequenceRepository(session).get_version_by_id(
        tenant_id=enrollment.tenant_id, version_id=enrollment.sequence_version_id
    )
    return version.version if version is not None else 0


async def enrollment_public(
    *, session: AsyncSession, workflows: SequenceWorkflowClient, tenant: Tenant, enrollment_id: uuid.UUID
) -> EnrollmentPublic:
    """The workflow's own view while it can answer, else the mirrored row and its recorded step history."""
    enrollment = await get_enrollment(session=session, tenant_id=tenant.id, enrollment_id=enrollment_id)
    number = await _version_number(session, enrollment)
    try:
        view = await workflows.view(
            tenant_slug=tenant.slug, enrollment_id=enrollment.id, answer_within=timedelta(seconds=5)
        )
    except AppError as exc:
        log.info("enrollment %s answered from its row: %s", enrollment.id, (str(exc).splitlines() or [""])[0])
        steps = await EnrollmentRepository(session).steps(tenant_id=tenant.id, enrollment_id=enrollment.id)
        history = [EnrollmentStepPublic.model_validate(step, from_attributes=True) for step in steps]
        return _from_row(enrollment, number, history)
    return from_view(enrollment, number, view)


# What an enrollment's state is made of, read from its mirrored row or from its workflow's view alike.
_STATE_FIELDS = (
    "current_step_index",
    "current_step_id",
    "current_step_type",
    "next_action_at",
    "exit_reason",
    "exit_detail",
    "replies",
    "open_task_id",
    "started_at",
    "paused_at",
    "ended_at",
)


def _public(
    enrollment: Enrollment,
    number: int,
    state: Enrollment | EnrollmentView,
    *,
    status: str,
    history: list[EnrollmentStepPublic],
    source: Literal["workflow", "database"],
) -> EnrollmentPublic:
    return from_row(
        EnrollmentPublic,
        enrollment,
        sequence_version=number,
        status=status,
        history=history,
        source=source,
        **{name: getattr(state, name) for name in _STATE_FIELDS},
    )


def _from_row(enrollment: Enrollment, number: int, history: list[EnrollmentStepPublic]) -> EnrollmentPublic:
    return _public(enrollment, number, enrollment, status=enrollment.status, history=history, source="database")


def from_view(enrollment: Enrollment, number: int, view: EnrollmentView) -> EnrollmentPublic:
    history = [EnrollmentStepPublic.model_validate(record, from_attributes=True) for record in view.history]
    return _public(enrollment, number, view, status=view.status.value, history=history, source="workflow")


async def control(
    *,
    session: AsyncSession,
    workflows: SequenceWorkflowClient,
    tenant: Tenant,
    enrollment_id: uuid.UUID,
    action: str,
    actor: str,
    reason: str | None,
) -> EnrollmentPublic:
    """pause / resume / stop through the workflow's validated update; 409 with its reason when refused.

    A stop or pause is first recorded on the enrollment row and committed: the send path checks it when it decides a
    send, so it holds at once even while the workflow waits behind a burst on the bulk queue (the update then applies
    when the workflow runs). A resume clears the pause before the update."""
    enrollment = await get_enrollment(session=session, tenant_id=tenant.id, enrollment_id=enrollment_id)
    number = await _version_number(session, enrollment)
    enrollments = EnrollmentRepository(session)
    stop_recorded = None
    if action == "stop":
        detail = f"stopped by {actor}" + (f": {reason}" if reason else "")
        stop_recorded = await enrollments.request_stop(tenant_id=tenant.id, enrollment_id=enrollment.id, detail=detail)
    elif enrollment.status not in ("completed", "exited", "stopped"):
        await enrollments.request_pause(tenant_id=tenant.id, enrollment_id=enrollment.id, paused=action == "pause")
    await commit_intent(session)
    operations = {"pause": workflows.pause, "resume": workflows.resume, "stop": workflows.stop}
    try:
        view = await operations[action](
            tenant_slug=tenant.slug, enrollment_id=enrollment.id, actor=actor, reason=reason
        )
    except Conflict:
        if stop_recorded is None:
            raise
        # This request's stop ended the enrollment through a send before its update arrived (the workflow then
        # closed): the stop applied.
        ended = await get_enrollment(session=session, tenant_id=tenant.id, enrollment_id=enrollment.id)
        if ended.status != "stopped":
            raise
        return _from_row(ended, number, await _history(session, ended))
    return from_view(enrollment, number, view)


async def _history(session: AsyncSession, enrollment: Enrollment) -> list[EnrollmentStepPublic]:
    steps = await EnrollmentRepository(session).steps(tenant_id=enrollment.tenant_id, enrollment_id=enrollment.id)
    return [EnrollmentStepPublic.model_validate(step, from_attributes=True) for step in steps]

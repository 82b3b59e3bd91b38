"""Enrollments under /api/v1: bulk-enroll leads in a sequence, read one enrollment, pause / resume / stop it.

`enrollment:manage` enrolls and controls (owner, admin, agent: agents work leads), `enrollment:read` reads. Another
tenant's sequence or enrollment is a 404. A bulk enrollment commits its rows and answers 202 with a job that starts
their workflows behind the answer; a control the workflow refuses (pause of a paused enrollment, stop of an ended
one) is a 409 with the workflow's reason.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import JobWorkflowsDep, SessionDep, SettingsDep
from api.schemas.enrollments import (
    EnrollmentControlRequest,
    EnrollmentPublic,
    EnrollmentStatusFilter,
    EnrollmentSummary,
    EnrollReport,
    EnrollRequest,
    LeadEnrollment,
)
from api.scopes import SequenceScope
from api.security import CurrentTenant, EnrollmentManager, EnrollmentReader
from api.services import enrollments as service

router = APIRouter(tags=["enrollments"])


REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "the workflow refused: details.enrollment_id, message says why"}
}


@router.post(
    "/sequences/{sequence_id}/enrollments",
    status_code=202,
    responses={409: {"description": "the sequence is archived or was never published"}},
)
async def enroll_leads(
    sequence_id: uuid.UUID,
    data: EnrollRequest,
    principal: EnrollmentManager,
    tenant: CurrentTenant,
    session: SessionDep,
    jobs: JobWorkflowsDep,
    settings: SettingsDep,
    response: Response,
) -> EnrollReport:
    """Enroll leads (by id, or every lead matching GET /leads filters) in the latest published version.

    Answers 202 at once: how many were enrolled and why each other lead was skipped (already_enrolled, opted_out,
    terminal_stage, not_found), and the job (`Location`) that starts their workflows behind the answer.
    """
    plan = await service.enroll(
        session=session,
        jobs=jobs,
        tenant=tenant,
        sequence_id=sequence_id,
        data=data,
        actor=principal.actor,
        settings=settings,
    )
    report = plan.report()
    response.headers["Location"] = report.job.url
    return report


@router.get("/sequences/{sequence_id}/enrollments")
async def list_enrollments(
    sequence_id: uuid.UUID,
    principal: EnrollmentReader,
    session: SessionDep,
    status: EnrollmentStatusFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[EnrollmentSummary]:
    """The sequence's enrollments, newest first (as their workflows last mirrored them)."""
    return await service.list_enrollments(
        session=session, tenant_id=principal.tenant(), sequence_id=sequence_id, status=status, limit=limit
    )


@router.get("/leads/{lead_id}/enrollments")
async def list_lead_enrollments(
    lead_id: uuid.UUID,
    principal: EnrollmentReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[LeadEnrollment]:
    """The lead's enrollments in every sequence, newest first (as their workflows last mirrored them)."""
    return await service.list_lead_enrollments(
        session=session, tenant_id=principal.tenant(), lead_id=lead_id, limit=limit
    )


@router.get("/enrollments/{enrollment_id}")
async def get_enrollment(
    enrollment_id: uuid.UUID,
    principal: EnrollmentReader,
    scope: SequenceScope,
) -> EnrollmentPublic:
    """Status, current step, next action time (UTC), exit reason and the history of steps."""
    return await service.enrollment_public(**scope.kwargs, enrollment_id=enrollment_id)


def _control_route(action: str, description: str) -> None:
    """POST /enrollments/{id}/<action>: one route per control, each the workflow's validated update."""

    @router.post(
        f"/enrollments/{{enrollment_id}}/{action}",
        responses=REFUSED,
        name=f"{action}_enrollment",
        description=description,
    )
    async def control(
        enrollment_id: uuid.UUID,
        principal: EnrollmentManager,
        scope: SequenceScope,
        data: EnrollmentControlRequest | None = None,
    ) -> EnrollmentPublic:
        reason = data.reason if data else None
        return await service.control(
            **scope.kwargs, enrollment_id=enrollment_id, action=action, actor=principal.actor, reason=reason
        )


_control_route("pause", "Hold an active enrollment before its next action; 409 unless it is active.")
_control_route("resume", "Go on from where it was held; 409 unless it is paused.")
_control_route("stop", "End the enrollment now (an open task is cancelled); 409 when it already ended.")

"""The leads REST API under /api/v1/leads: CRUD, list and search, status changes, timeline and CSV import.

Everything is scoped to the caller's tenant: another tenant's lead id answers 404 like a missing one. Rows commit
before a workflow is started or told (api/transaction.py); a workflow that cannot be reached answers 503 saying what
was saved.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import AfterValidator

from api.deps import JobWorkflowsDep, SessionDep, SettingsDep
from api.idempotency import REPLAYED_HEADER, IdempotencyKey
from api.schemas.leads import (
    LeadCreate,
    LeadDetail,
    LeadImportReport,
    LeadPage,
    LeadPublic,
    LeadStatusChange,
    LeadUpdate,
    TimelineEventPublic,
)
from api.schemas.nul import reject_nul
from api.scopes import LeadScope
from api.security import CurrentTenant, LeadDeleter, LeadImporter, LeadReader, LeadWriter
from api.services import lead_import
from api.services import leads as service
from domain.stages import Stage

router = APIRouter(prefix="/leads", tags=["leads"])


@router.post(
    "",
    status_code=201,
    responses={
        409: {"description": "phone already used by another lead; details.lead_id"},
        422: {"description": "invalid field, or an Idempotency-Key already used with another body"},
    },
)
async def create_lead(
    data: LeadCreate,
    principal: LeadWriter,
    scope: LeadScope,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> LeadPublic:
    """Create a lead and start its workflow.

    The same request again (same Idempotency-Key, or without one the same body while the first attempt's workflow
    never started, as after a 503) finishes the first attempt and answers 201 with its lead; any other create for a
    phone in use is 409 naming the lead.
    """
    creation = await service.create_lead(
        **scope.kwargs, data=data, actor=principal.actor, idempotency_key=idempotency_key
    )
    if creation.attempt is service.CreateAttempt.KEY_REPLAY:
        response.headers[REPLAYED_HEADER] = "true"
    return LeadPublic.model_validate(creation.lead)


@router.get("")
async def list_leads(
    principal: LeadReader,
    tenant: CurrentTenant,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=63, description="status key"), AfterValidator(reject_nul)] = None,
    stage: Stage | None = None,
    owner_id: uuid.UUID | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="search in name, phone, e-mail"), AfterValidator(reject_nul)
    ] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=service.LIST_LIMIT_MAX)] = 50,
) -> LeadPage:
    """Leads newest first; pass `next_cursor` back as `cursor` for the next page."""
    items, next_cursor = await service.list_leads(
        session=session,
        tenant=tenant,
        limit=limit,
        cursor=cursor,
        status=status,
        stage=stage,
        owner_id=owner_id,
        q=q,
    )
    return LeadPage(items=[LeadPublic.model_validate(lead) for lead in items], next_cursor=next_cursor)


@router.post("/import", status_code=202, responses={413: {"description": "file too large or too many rows"}})
async def import_leads(
    principal: LeadImporter,
    tenant: CurrentTenant,
    session: SessionDep,
    jobs: JobWorkflowsDep,
    settings: SettingsDep,
    response: Response,
    file: Annotated[UploadFile, File(description="CSV, UTF-8, header row with a 'phone' column")],
) -> LeadImportReport:
    """Import leads from CSV: valid rows stored in one transaction, bad rows reported by line; 202 with the job
    (`Location`) that starts their workflows behind the answer."""
    text = await lead_import.read_upload(file, max_bytes=settings.lead_import_max_bytes)
    report = await lead_import.import_leads(
        session=session,
        jobs=jobs,
        tenant=tenant,
        text=text,
        actor=principal.actor,
        max_rows=settings.lead_import_max_rows,
    )
    response.headers["Location"] = report.job.url
    return report


@router.get("/{lead_id}")
async def get_lead(lead_id: uuid.UUID, principal: LeadReader, session: SessionDep) -> LeadDetail:
    """The lead with its owner's name."""
    return await service.lead_detail(session=session, tenant_id=principal.tenant(), lead_id=lead_id)


@router.patch("/{lead_id}", responses={409: {"description": "phone already used; details.lead_id"}})
async def update_lead(
    lead_id: uuid.UUID,
    data: LeadUpdate,
    principal: LeadWriter,
    scope: LeadScope,
) -> LeadPublic:
    """Change the fields sent (a new name, phone or owner reaches the workflow too). Status: POST /leads/{id}/status."""
    lead = await service.update_lead(**scope.kwargs, lead_id=lead_id, data=data, actor=principal.actor)
    return LeadPublic.model_validate(lead)


@router.delete("/{lead_id}", status_code=204)
async def delete_lead(lead_id: uuid.UUID, principal: LeadDeleter, scope: LeadScope) -> Response:
    """Stop the lead's workflow, then delete the lead with its timeline."""
    await service.delete_lead(**scope.kwargs, lead_id=lead_id, actor=principal.actor)
    return Response(status_code=204)


@router.post("/{lead_id}/status", responses={409: {"description": "the workflow refused the transition"}})
async def change_status(
    lead_id: uuid.UUID,
    data: LeadStatusChange,
    principal: LeadWriter,
    scope: LeadScope,
) -> LeadPublic:
    """Move the lead to another status through its workflow; 409 with the reason when the transition is not allowed."""
    return await service.change_status(**scope.kwargs, lead_id=lead_id, data=data, actor=principal.actor)


@router.get("/{lead_id}/timeline")
async def lead_timeline(
    lead_id: uuid.UUID,
    principal: LeadReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[TimelineEventPublic]:
    """The lead's activity, newest first."""
    return await service.timeline(session=session, tenant_id=principal.tenant(), lead_id=lead_id, limit=limit)

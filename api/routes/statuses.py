"""Lead statuses of the caller's tenant under /api/v1/statuses: everyone reads, owners and admins change them."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import SessionDep
from api.schemas.statuses import StatusCreate, StatusPublic, StatusUpdate
from api.security import StatusManager, StatusReader
from api.services import statuses as service

router = APIRouter(prefix="/statuses", tags=["statuses"])

StatusKey = Annotated[str, Path(min_length=1, max_length=63)]


@router.get("")
async def list_statuses(principal: StatusReader, session: SessionDep) -> list[StatusPublic]:
    statuses = await service.list_statuses(session, tenant_id=principal.tenant())
    return [StatusPublic.model_validate(s) for s in statuses]


@router.post("", status_code=201, responses={409: {"description": "key already used in this tenant"}})
async def create_status(data: StatusCreate, principal: StatusManager, session: SessionDep) -> StatusPublic:
    status = await service.create_status(session, tenant_id=principal.tenant(), **dict(data))
    return StatusPublic.model_validate(status)


@router.patch("/{key}", responses={409: {"description": "stage change of a status leads are in, or the last 'new'"}})
async def update_status(
    key: StatusKey, data: StatusUpdate, principal: StatusManager, session: SessionDep
) -> StatusPublic:
    status = await service.update_status(session, tenant_id=principal.tenant(), key=key, **dict(data))
    return StatusPublic.model_validate(status)


@router.delete("/{key}", status_code=204, responses={409: {"description": "leads still in it (details.lead_count)"}})
async def delete_status(key: StatusKey, principal: StatusManager, session: SessionDep) -> Response:
    await service.delete_status(session, tenant_id=principal.tenant(), key=key)
    return Response(status_code=204)

"""Calls: click-to-call `POST /leads/{id}/calls`, history `GET /leads/{id}/calls`, `GET /calls/{id}` (with
transcript), `POST /calls/{id}/disposition`, live calls `GET /calls/live`. Tenant-scoped: another tenant's lead or
call is a 404."""

import uuid

from fastapi import APIRouter

from api.deps import CallWorkflowsDep, RedisDep, SessionDep, SettingsDep
from api.schemas.calls import CallDetail, CallList, ClickToCall, DispositionUpdate, LiveCallList
from api.security import CallPlacer, CallReader
from api.services import calls as service

router = APIRouter(tags=["calls"])


@router.post(
    "/leads/{lead_id}/calls",
    status_code=202,
    responses={
        404: {"description": "no such lead in your tenant"},
        409: {"description": "another call to the lead was started at the same moment"},
        422: {"description": "no telephony account, or no agent phone to ring first"},
    },
)
async def click_to_call(
    lead_id: uuid.UUID, data: ClickToCall, principal: CallPlacer, session: SessionDep, workflows: CallWorkflowsDep
) -> CallDetail:
    """Ring the agent's phone, then bridge the lead. The call runs as its own workflow: follow it on GET /calls/{id}."""
    return await service.place_click_to_call(
        session=session, workflows=workflows, principal=principal, lead_id=lead_id, data=data
    )


@router.get("/leads/{lead_id}/calls", responses={404: {"description": "no such lead in your tenant"}})
async def list_lead_calls(lead_id: uuid.UUID, principal: CallReader, session: SessionDep) -> CallList:
    return CallList(items=await service.list_lead_calls(session=session, tenant_id=principal.tenant(), lead_id=lead_id))


@router.get("/calls/live")
async def live_calls(principal: CallReader, redis: RedisDep, settings: SettingsDep) -> LiveCallList:
    """The tenant's calls ringing or in progress now."""
    return LiveCallList(items=await service.live_calls(redis=redis, settings=settings, tenant_id=principal.tenant()))


@router.get("/calls/{call_id}", responses={404: {"description": "no such call in your tenant"}})
async def get_call(call_id: uuid.UUID, principal: CallReader, session: SessionDep) -> CallDetail:
    return service.detail(await service.get_call(session=session, tenant_id=principal.tenant(), call_id=call_id))


@router.post("/calls/{call_id}/disposition", responses={404: {"description": "no such call in your tenant"}})
async def set_disposition(
    call_id: uuid.UUID,
    data: DispositionUpdate,
    principal: CallPlacer,
    session: SessionDep,
    workflows: CallWorkflowsDep,
) -> CallDetail:
    """Set or correct the call's disposition, with a note and optionally a time to call back."""
    return await service.set_disposition(
        session=session, workflows=workflows, principal=principal, call_id=call_id, data=data
    )

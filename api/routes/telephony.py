"""`GET/PUT /api/v1/telephony/account` (owner/admin): Twilio credentials (auth token write-only) and call policy."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import SessionDep, SettingsDep
from api.schemas.telephony import TelephonyAccountPublic, TelephonyAccountUpdate
from api.security import Principal, require
from api.services import telephony_accounts as service
from domain.permissions import Action

router = APIRouter(prefix="/telephony", tags=["calls"])

AccountManager = Annotated[Principal, Depends(require(Action.TELEPHONY_ACCOUNT_MANAGE))]


@router.get("/account", responses={404: {"description": "no telephony account configured yet"}})
async def get_account(principal: AccountManager, session: SessionDep, settings: SettingsDep) -> TelephonyAccountPublic:
    return await service.get_account(session=session, tenant_id=principal.tenant(), settings=settings)


@router.put("/account")
async def put_account(
    data: TelephonyAccountUpdate, principal: AccountManager, session: SessionDep, settings: SettingsDep
) -> TelephonyAccountPublic:
    """The auth token is write-only: the answer says `has_auth_token`, never the value."""
    return await service.put_account(session=session, tenant_id=principal.tenant(), data=data, settings=settings)

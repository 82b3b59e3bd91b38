"""`GET/PUT /api/v1/telephony/account` (owner/admin): Twilio credentials (auth token write-only) and call policy."""

from fastapi import APIRouter

from api.deps import SessionDep, SettingsDep
from api.schemas.telephony import TelephonyAccountPublic, TelephonyAccountUpdate
from api.security import TelephonyAccountManager
from api.services import telephony_accounts as service

router = APIRouter(prefix="/telephony", tags=["calls"])


@router.get("/account", responses={404: {"description": "no telephony account configured yet"}})
async def get_account(
    principal: TelephonyAccountManager, session: SessionDep, settings: SettingsDep
) -> TelephonyAccountPublic:
    return await service.get_account(session=session, tenant_id=principal.tenant(), settings=settings)


@router.put("/account")
async def put_account(
    data: TelephonyAccountUpdate, principal: TelephonyAccountManager, session: SessionDep, settings: SettingsDep
) -> TelephonyAccountPublic:
    """The auth token is write-only: the answer says `has_auth_token`, never the value."""
    return await service.put_account(session=session, tenant_id=principal.tenant(), data=data, settings=settings)

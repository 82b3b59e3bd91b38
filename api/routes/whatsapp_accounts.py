"""`GET/PUT /api/v1/whatsapp/account` (owner/admin; secrets write-only),
`GET /api/v1/whatsapp/templates` (who reads leads: the inbox's template picker) and
`POST /api/v1/whatsapp/shards/{tenant_id}/move` (system_admin: the only way a tenant changes shard)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import SessionDep, SettingsDep
from api.schemas.whatsapp import (
    ShardAssignmentPublic,
    ShardMove,
    WhatsAppAccountPublic,
    WhatsAppAccountUpdate,
    WhatsAppTemplatePublic,
)
from api.security import Principal, require
from api.services import whatsapp_accounts as service
from api.services import whatsapp_templates
from channels.whatsapp.shard_router import ShardRouter
from domain.permissions import Action

router = APIRouter(prefix="/whatsapp", tags=["whatsapp"])

AccountManager = Annotated[Principal, Depends(require(Action.WHATSAPP_ACCOUNT_MANAGE))]
ShardManager = Annotated[Principal, Depends(require(Action.WHATSAPP_SHARD_MANAGE))]
Reader = Annotated[Principal, Depends(require(Action.LEAD_READ))]


@router.get("/account", responses={404: {"description": "no account configured yet"}})
async def get_account(principal: AccountManager, session: SessionDep, settings: SettingsDep) -> WhatsAppAccountPublic:
    return await service.get_account(
        session=session,
        tenant_id=principal.tenant(),
        router=ShardRouter(settings.whatsapp_evolution_shards),
        settings=settings,
    )


@router.put("/account", responses={409: {"description": "the phone number id belongs to another tenant's account"}})
async def put_account(
    data: WhatsAppAccountUpdate, principal: AccountManager, session: SessionDep, settings: SettingsDep
) -> WhatsAppAccountPublic:
    """Secrets are write-only: the answer says `has_access_token` etc., never the values."""
    return await service.put_account(
        session=session,
        tenant_id=principal.tenant(),
        data=data,
        router=ShardRouter(settings.whatsapp_evolution_shards),
        settings=settings,
    )


@router.get("/templates")
async def list_templates(principal: Reader, session: SessionDep) -> list[WhatsAppTemplatePublic]:
    """Templates the tenant's sequences name or its messages were sent with, most recently sent first."""
    return await whatsapp_templates.known_templates(session=session, tenant_id=principal.tenant())


@router.post("/shards/{tenant_id}/move")
async def move_shard(
    tenant_id: uuid.UUID, data: ShardMove, principal: ShardManager, session: SessionDep, settings: SettingsDep
) -> ShardAssignmentPublic:
    return await service.move_shard(
        session=session,
        tenant_id=tenant_id,
        shard_name=data.shard,
        router=ShardRouter(settings.whatsapp_evolution_shards),
    )

"""`GET/PUT /api/v1/whatsapp/account` (owner/admin; secrets write-only),
`GET /api/v1/whatsapp/templates` (who reads leads: the inbox's template picker) and
`POST /api/v1/whatsapp/shards/{tenant_id}/move` (system_admin: the only way a tenant changes shard)."""

import uuid

from fastapi import APIRouter

from api.deps import SessionDep, SettingsDep, WebhookSignersDep
from api.schemas.whatsapp import (
    ShardAssignmentPublic,
    ShardMove,
    WhatsAppAccountPublic,
    WhatsAppAccountUpdate,
    WhatsAppTemplatePublic,
)
from api.security import LeadReader, ShardManager, WhatsAppAccountManager
from api.services import whatsapp_accounts as service
from api.services import whatsapp_templates
from channels.whatsapp.shard_router import ShardRouter

router = APIRouter(prefix="/whatsapp", tags=["whatsapp"])


@router.get("/account", responses={404: {"description": "no account configured yet"}})
async def get_account(
    principal: WhatsAppAccountManager, session: SessionDep, settings: SettingsDep
) -> WhatsAppAccountPublic:
    return await service.get_account(
        session=session,
        tenant_id=principal.tenant(),
        router=ShardRouter(settings.whatsapp_evolution_shards),
        settings=settings,
    )


@router.put("/account", responses={409: {"description": "the phone number id belongs to another tenant's account"}})
async def put_account(
    data: WhatsAppAccountUpdate,
    principal: WhatsAppAccountManager,
    session: SessionDep,
    settings: SettingsDep,
    signers: WebhookSignersDep,
) -> WhatsAppAccountPublic:
    """Secrets are write-only: the answer says `has_access_token` etc., never the values."""
    account = await service.put_account(
        session=session,
        tenant_id=principal.tenant(),
        data=data,
        router=ShardRouter(settings.whatsapp_evolution_shards),
        settings=settings,
    )
    # This process verifies the account's next delivery against the account as changed.
    signers.forget_tenant(principal.tenant(), account.phone_number_id)
    return account


@router.get("/templates")
async def list_templates(principal: LeadReader, session: SessionDep) -> list[WhatsAppTemplatePublic]:
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

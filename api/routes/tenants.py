"""Tenants under /api/v1/tenants: platform administrators create tenants (with their owner) and list them; the
owner reads and changes their tenant's settings, a system admin any tenant's."""

import uuid

from fastapi import APIRouter

from api.deps import SessionDep
from api.schemas.tenants import TenantCreate, TenantCreated, TenantPublic, TenantUpdate
from api.schemas.users import UserPublic
from api.security import Principal, TenantCreator, TenantLister, TenantSettingsEditor
from api.services import tenants as service
from api.services.users import list_users
from core.errors import NotFound
from domain.permissions import Role

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.post("", status_code=201, responses={409: {"description": "slug or owner e-mail already taken"}})
async def create_tenant(data: TenantCreate, principal: TenantCreator, session: SessionDep) -> TenantCreated:
    """Create a tenant, its owner and its default statuses."""
    tenant = await service.create_tenant(session, **dict(data))
    (owner,) = await list_users(session, tenant_id=tenant.id)
    public = TenantPublic.model_validate(tenant)
    return TenantCreated(**public.model_dump(), owner=UserPublic.model_validate(owner))


@router.get("")
async def list_tenants(principal: TenantLister, session: SessionDep) -> list[TenantPublic]:
    return [TenantPublic.model_validate(t) for t in await service.list_tenants(session)]


def _check_own_tenant(principal: Principal, tenant_id: uuid.UUID) -> None:
    """An owner reaches only their own tenant; another tenant is indistinguishable from none."""
    if principal.role != Role.SYSTEM_ADMIN and principal.tenant_id != tenant_id:
        raise NotFound("no such tenant")


@router.get("/{tenant_id}", responses={404: {"description": "no such tenant, or another tenant's"}})
async def get_tenant_settings(
    tenant_id: uuid.UUID, principal: TenantSettingsEditor, session: SessionDep
) -> TenantPublic:
    """The settings as they are now, for whoever may change them (the settings form starts from them)."""
    _check_own_tenant(principal, tenant_id)
    return TenantPublic.model_validate(await service.get_tenant(session, tenant_id=tenant_id))


@router.patch("/{tenant_id}", responses={404: {"description": "no such tenant, or another tenant's"}})
async def update_tenant_settings(
    tenant_id: uuid.UUID, data: TenantUpdate, principal: TenantSettingsEditor, session: SessionDep
) -> TenantPublic:
    """Change name, time zone, phone region or speed-to-lead (0 = off); only the fields sent. New leads get the new
    speed-to-lead; running lead workflows keep the one they started with."""
    _check_own_tenant(principal, tenant_id)
    tenant = await service.update_tenant_settings(session, tenant_id=tenant_id, **dict(data))
    return TenantPublic.model_validate(tenant)

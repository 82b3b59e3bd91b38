"""`/api/v1/admin/tenants/{tenant_id}/flags` (system_admin): a tenant's feature flags, and overriding one.

GET    .../flags          every flag: default, the tenant's override, the value in effect
PUT    .../flags/{flag}   {"enabled": true|false}: the tenant's override
DELETE .../flags/{flag}   back to the default
"""

import uuid
from typing import Any

from fastapi import APIRouter, Request

from api.deps import SessionDep
from api.schemas.feature_flags import FeatureFlagOverride, TenantFeatureFlagsPublic
from api.security import FlagManager
from api.services import feature_flags as service
from core.feature_flags import FeatureFlagReader
from domain.feature_flags import FeatureFlag

router = APIRouter(prefix="/admin/tenants/{tenant_id}/flags", tags=["admin"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such tenant"}}


def _reader(request: Request) -> FeatureFlagReader:
    reader: FeatureFlagReader = request.app.state.feature_flags
    return reader


@router.get("", responses=NOT_FOUND)
async def get_tenant_flags(
    tenant_id: uuid.UUID, principal: FlagManager, session: SessionDep
) -> TenantFeatureFlagsPublic:
    """Every feature flag of the tenant: its default, the tenant's override and the value in effect."""
    return await service.tenant_flags(session, tenant_id=tenant_id)


@router.put("/{flag}", responses=NOT_FOUND)
async def set_tenant_flag(
    tenant_id: uuid.UUID,
    flag: FeatureFlag,
    data: FeatureFlagOverride,
    principal: FlagManager,
    session: SessionDep,
    request: Request,
) -> TenantFeatureFlagsPublic:
    """Turn a flag on or off for this tenant, whatever its default."""
    return await service.set_flag(
        session, _reader(request), tenant_id=tenant_id, flag=flag, enabled=data.enabled, by=principal.user_id
    )


@router.delete("/{flag}", responses=NOT_FOUND)
async def clear_tenant_flag(
    tenant_id: uuid.UUID, flag: FeatureFlag, principal: FlagManager, session: SessionDep, request: Request
) -> TenantFeatureFlagsPublic:
    """Remove the tenant's override: the flag's default applies again."""
    return await service.clear_flag(session, _reader(request), tenant_id=tenant_id, flag=flag)

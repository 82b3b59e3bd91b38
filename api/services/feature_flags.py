"""Per-tenant feature flag overrides, set by a system admin. Never commits; the process's cached reader forgets the
tenant's flags so the change shows at once here (other processes within the cache time)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.feature_flags import FeatureFlagState, TenantFeatureFlagsPublic
from api.services.tenants import get_tenant
from core.feature_flags import FeatureFlagReader
from domain.feature_flags import FLAGS, FeatureFlag
from repositories.feature_flags import FeatureFlagRepository


async def tenant_flags(session: AsyncSession, *, tenant_id: uuid.UUID) -> TenantFeatureFlagsPublic:
    """Every flag with its default, the tenant's override and the value in effect; 404 for an unknown tenant."""
    await get_tenant(session, tenant_id=tenant_id)
    overrides = await FeatureFlagRepository(session).overrides(tenant_id=tenant_id)
    states = [
        FeatureFlagState(
            name=flag.value,
            description=definition.description,
            default=definition.default,
            override=overrides.get(flag.value),
            enabled=overrides.get(flag.value, definition.default),
        )
        for flag, definition in FLAGS.items()
    ]
    return TenantFeatureFlagsPublic(tenant_id=tenant_id, flags=states)


async def set_flag(
    session: AsyncSession,
    reader: FeatureFlagReader,
    *,
    tenant_id: uuid.UUID,
    flag: FeatureFlag,
    enabled: bool,
    by: uuid.UUID | None,
) -> TenantFeatureFlagsPublic:
    await get_tenant(session, tenant_id=tenant_id)
    await FeatureFlagRepository(session).set(tenant_id=tenant_id, flag=flag.value, enabled=enabled, by=by)
    reader.forget(tenant_id)
    return await tenant_flags(session, tenant_id=tenant_id)


async def clear_flag(
    session: AsyncSession, reader: FeatureFlagReader, *, tenant_id: uuid.UUID, flag: FeatureFlag
) -> TenantFeatureFlagsPublic:
    await get_tenant(session, tenant_id=tenant_id)
    await FeatureFlagRepository(session).clear(tenant_id=tenant_id, flag=flag.value)
    reader.forget(tenant_id)
    return await tenant_flags(session, tenant_id=tenant_id)

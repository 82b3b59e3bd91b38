"""Per-tenant feature flag overrides (table `tenant_feature_flag`)."""

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from models import TenantFeatureFlag
from repositories.base import Repository


class FeatureFlagRepository(Repository[TenantFeatureFlag]):
    model = TenantFeatureFlag

    async def overrides(self, *, tenant_id: uuid.UUID) -> dict[str, bool]:
        rows = await self.session.execute(
            select(TenantFeatureFlag.flag, TenantFeatureFlag.enabled).where(TenantFeatureFlag.tenant_id == tenant_id)
        )
        return {flag: enabled for flag, enabled in rows.all()}

    async def set(self, *, tenant_id: uuid.UUID, flag: str, enabled: bool, by: uuid.UUID | None) -> None:
        """Create or replace the tenant's override of `flag`."""
        statement = insert(TenantFeatureFlag).values(tenant_id=tenant_id, flag=flag, enabled=enabled, updated_by_id=by)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[TenantFeatureFlag.tenant_id, TenantFeatureFlag.flag],
                set_={"enabled": enabled, "updated_by_id": by, "updated_at": statement.excluded.updated_at},
            )
        )

    async def clear(self, *, tenant_id: uuid.UUID, flag: str) -> bool:
        """Remove the override (the default applies again); False when there was none."""
        result = await self.session.execute(
            delete(TenantFeatureFlag).where(TenantFeatureFlag.tenant_id == tenant_id, TenantFeatureFlag.flag == flag)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

"""SQL for tenants."""

import uuid

from sqlalchemy import select

from models import Tenant
from repositories.base import Repository


class TenantRepository(Repository[Tenant]):
    model = Tenant

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        return await self.by_id(tenant_id)

    async def get_by_slug(self, slug: str) -> Tenant | None:
        result = await self.session.execute(select(Tenant).where(Tenant.slug == slug))
        return result.scalar_one_or_none()

    async def list(self) -> list[Tenant]:
        return await self._all(select(Tenant).order_by(Tenant.created_at, Tenant.slug))

"""SQL for tenants."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Tenant


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def get_by_slug(self, slug: str) -> Tenant | None:
        result = await self.session.execute(select(Tenant).where(Tenant.slug == slug))
        return result.scalar_one_or_none()

    async def list(self) -> list[Tenant]:
        result = await self.session.execute(select(Tenant).order_by(Tenant.created_at, Tenant.slug))
        return list(result.scalars())

    async def add(self, tenant: Tenant) -> Tenant:
        """Insert and flush, so a taken slug surfaces here as an IntegrityError."""
        self.session.add(tenant)
        await self.session.flush()
        return tenant

    async def flush(self) -> None:
        await self.session.flush()

"""SQL for leads. Every read is scoped by tenant: a lead of another tenant is simply not found."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Lead


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
        result = await self.session.execute(select(Lead).where(Lead.tenant_id == tenant_id, Lead.id == lead_id))
        return result.scalar_one_or_none()

    async def get_by_phone(self, *, tenant_id: uuid.UUID, phone: str) -> Lead | None:
        result = await self.session.execute(select(Lead).where(Lead.tenant_id == tenant_id, Lead.phone == phone))
        return result.scalar_one_or_none()

    async def set_status(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, status_key: str, stage: str) -> bool:
        """Write the lead's status; False when the lead no longer exists. Safe to repeat."""
        result = await self.session.execute(
            update(Lead)
            .where(Lead.tenant_id == tenant_id, Lead.id == lead_id)
            .values(status_key=status_key, stage=stage)
            .returning(Lead.id)
        )
        return result.scalar_one_or_none() is not None

"""SQL for per-tenant status definitions."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.stages import DEFAULT_STATUSES
from models import StatusDefinition


class StatusRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, *, tenant_id: uuid.UUID) -> list[StatusDefinition]:
        result = await self.session.execute(
            select(StatusDefinition)
            .where(StatusDefinition.tenant_id == tenant_id)
            .order_by(StatusDefinition.position, StatusDefinition.key)
        )
        return list(result.scalars())

    async def get_by_key(self, *, tenant_id: uuid.UUID, key: str) -> StatusDefinition | None:
        result = await self.session.execute(
            select(StatusDefinition).where(StatusDefinition.tenant_id == tenant_id, StatusDefinition.key == key)
        )
        return result.scalar_one_or_none()

    async def get_default(self, *, tenant_id: uuid.UUID) -> StatusDefinition | None:
        """The status a new lead starts in: the one flagged default, else the first of stage 'new'."""
        result = await self.session.execute(
            select(StatusDefinition)
            .where(StatusDefinition.tenant_id == tenant_id, StatusDefinition.stage == "new")
            .order_by(StatusDefinition.is_default.desc(), StatusDefinition.position)
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def add_defaults(self, *, tenant_id: uuid.UUID) -> None:
        for position, (key, label, stage) in enumerate(DEFAULT_STATUSES):
            self.session.add(
                StatusDefinition(
                    tenant_id=tenant_id, key=key, label=label, stage=stage, position=position, is_default=key == "new"
                )
            )
        await self.session.flush()

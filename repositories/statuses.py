"""SQL for per-tenant status definitions."""

import builtins
import uuid

from sqlalchemy import func, select, update

from domain.stages import DEFAULT_STATUSES
from models import Lead, StatusDefinition
from repositories.base import Repository


class StatusRepository(Repository[StatusDefinition]):
    model = StatusDefinition

    async def list(self, *, tenant_id: uuid.UUID) -> list[StatusDefinition]:
        return await self._all(
            select(StatusDefinition)
            .where(StatusDefinition.tenant_id == tenant_id)
            .order_by(StatusDefinition.position, StatusDefinition.key)
        )

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

    async def list_for_update(self, *, tenant_id: uuid.UUID) -> builtins.list[StatusDefinition]:
        """The tenant's statuses, locked until commit: changes that must keep "one `new` status remains" true
        serialise here instead of racing."""
        return await self._all(
            select(StatusDefinition)
            .where(StatusDefinition.tenant_id == tenant_id)
            .order_by(StatusDefinition.position, StatusDefinition.key)
            .with_for_update()
        )

    async def delete(self, status: StatusDefinition) -> None:
        await self.session.delete(status)
        await self.session.flush()

    async def count_leads_using(self, *, tenant_id: uuid.UUID, key: str) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(Lead).where(Lead.tenant_id == tenant_id, Lead.status_key == key)
        )
        return int(result.scalar_one())

    async def clear_default(self, *, tenant_id: uuid.UUID) -> None:
        await self.session.execute(
            update(StatusDefinition)
            .where(StatusDefinition.tenant_id == tenant_id, StatusDefinition.is_default)
            .values(is_default=False)
        )

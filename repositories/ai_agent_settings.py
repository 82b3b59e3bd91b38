"""SQL for a tenant's versioned AI agent settings: the current version, one version, a new version."""

import uuid
from typing import Any

from sqlalchemy import func, select

from models import AiAgentSettings
from repositories.base import Repository


class AiAgentSettingsRepository(Repository[AiAgentSettings]):
    model = AiAgentSettings

    async def current(self, *, tenant_id: uuid.UUID) -> AiAgentSettings | None:
        result = await self.session.execute(
            select(AiAgentSettings)
            .where(AiAgentSettings.tenant_id == tenant_id)
            .order_by(AiAgentSettings.version.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def add_version(self, *, tenant_id: uuid.UUID, values: dict[str, Any]) -> AiAgentSettings:
        """Store `values` as the tenant's next version (the unique constraint refuses a racing second writer)."""
        latest = await self.session.scalar(
            select(func.max(AiAgentSettings.version)).where(AiAgentSettings.tenant_id == tenant_id)
        )
        row = AiAgentSettings(tenant_id=tenant_id, version=(latest or 0) + 1, **values)
        self.session.add(row)
        await self.session.flush()
        return row

"""SQL for integration API keys, looked up by the SHA-256 digest of the clear key."""

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from models import ApiKey, User
from repositories.base import Repository


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def get_active_with_creator(self, key_hash: str) -> tuple[ApiKey, User | None] | None:
        """The unrevoked key with this digest and the user who created it (None when no person did)."""
        result = await self.session.execute(
            select(ApiKey, User)
            .outerjoin(User, User.id == ApiKey.created_by_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
        row = result.one_or_none()
        return None if row is None else (row[0], row[1])

    async def get(self, *, tenant_id: uuid.UUID, api_key_id: uuid.UUID) -> ApiKey | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=api_key_id)

    async def list(self, *, tenant_id: uuid.UUID) -> list[ApiKey]:
        return await self._all(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at, ApiKey.id)
        )

    async def touch(self, api_key_id: uuid.UUID) -> None:
        """Record a use. Callers throttle this: one write per key per minute is plenty for "last used"."""
        await self.session.execute(update(ApiKey).where(ApiKey.id == api_key_id).values(last_used_at=func.now()))

    async def revoke(self, api_key: ApiKey, *, at: datetime) -> None:
        if api_key.revoked_at is None:
            api_key.revoked_at = at
            await self.session.flush()

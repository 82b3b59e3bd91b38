"""The cached reader of tenants' feature flags, one per process (the API's lifespan, the worker's activities).

A tenant's flags are read from the database once and kept for `LEADFLOW_FEATURE_FLAG_CACHE_SECONDS`; a change made
through the admin API is seen at once by the process that made it (it drops its entry) and by every other process
within that time. Flag names and defaults: domain/feature_flags.py.
"""

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.feature_flags import FeatureFlag, effective_flags
from repositories.feature_flags import FeatureFlagRepository


class FeatureFlagReader:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, ttl_seconds: float) -> None:
        self.session_factory = session_factory
        self.ttl_seconds = ttl_seconds
        self._cache: dict[uuid.UUID, tuple[float, dict[FeatureFlag, bool]]] = {}

    async def flags(self, tenant_id: uuid.UUID) -> dict[FeatureFlag, bool]:
        """Every flag's effective value for the tenant."""
        cached = self._cache.get(tenant_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        async with self.session_factory() as session:
            overrides = await FeatureFlagRepository(session).overrides(tenant_id=tenant_id)
        flags = effective_flags(overrides)
        self._cache[tenant_id] = (now, flags)
        return flags

    async def enabled(self, tenant_id: uuid.UUID, flag: FeatureFlag) -> bool:
        return (await self.flags(tenant_id))[flag]

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop the tenant's cached flags (after this process changed them)."""
        self._cache.pop(tenant_id, None)

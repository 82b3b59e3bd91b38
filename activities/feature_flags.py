"""`feature_flags.get`: a tenant's feature flags for a workflow, which may not read them itself (a replay must see
the value the run saw, and history records this activity's answer)."""

import uuid

from temporalio import activity

from core.feature_flags import FeatureFlagReader
from domain.feature_flags import GET_FEATURE_FLAGS, FeatureFlagsQuery, TenantFeatureFlags


class FeatureFlagActivities:
    def __init__(self, reader: FeatureFlagReader) -> None:
        self.reader = reader

    @activity.defn(name=GET_FEATURE_FLAGS)
    async def get_feature_flags(self, query: FeatureFlagsQuery) -> TenantFeatureFlags:
        flags = await self.reader.flags(uuid.UUID(query.tenant_id))
        return TenantFeatureFlags(flags={flag.value: enabled for flag, enabled in flags.items()})

"""Feature flags of a tenant as a system admin reads and sets them."""

import uuid

from pydantic import BaseModel, Field

from api.schemas.base import InputBody


class FeatureFlagState(BaseModel):
    name: str
    description: str
    default: bool
    override: bool | None = Field(description="the tenant's own value, null when the default applies")
    enabled: bool = Field(description="what the tenant gets: the override, else the default")


class TenantFeatureFlagsPublic(BaseModel):
    tenant_id: uuid.UUID
    flags: list[FeatureFlagState]


class FeatureFlagOverride(InputBody):
    enabled: bool

"""HTTP shapes of the statuses API: StatusCreate / StatusUpdate in, StatusPublic out."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.nul import NulFreeModel
from api.services.statuses import KEY_PATTERN
from domain.stages import Stage


class StatusCreate(NulFreeModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=63, pattern=KEY_PATTERN, description="slug, unique in the tenant")
    label: str = Field(min_length=1, max_length=200)
    stage: Stage
    position: int | None = Field(default=None, ge=0, le=10_000, description="sort order; default: last")
    is_default: bool = Field(default=False, description="where new leads start; must be of stage 'new'")


class StatusUpdate(NulFreeModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str | None = Field(default=None, min_length=1, max_length=200)
    stage: Stage | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    is_default: bool | None = None


class StatusPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    label: str
    stage: Stage
    position: int
    is_default: bool
    created_at: datetime

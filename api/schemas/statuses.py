"""HTTP shapes of the statuses API: StatusCreate / StatusUpdate in, StatusPublic out."""

from datetime import datetime

from pydantic import Field

from api.schemas.base import InputBody, RowWithId
from api.services.statuses import KEY_PATTERN
from domain.stages import Stage


class StatusCreate(InputBody):
    key: str = Field(min_length=1, max_length=63, pattern=KEY_PATTERN, description="slug, unique in the tenant")
    label: str = Field(min_length=1, max_length=200)
    stage: Stage
    position: int | None = Field(default=None, ge=0, le=10_000, description="sort order; default: last")
    is_default: bool = Field(default=False, description="where new leads start; must be of stage 'new'")


class StatusUpdate(InputBody):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    stage: Stage | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    is_default: bool | None = None


class StatusPublic(RowWithId):
    key: str
    label: str
    stage: Stage
    position: int
    is_default: bool
    created_at: datetime

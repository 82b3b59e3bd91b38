"""HTTP shapes of the API keys API: ApiKeyCreate in; ApiKeyPublic (never the key) and ApiKeyCreated (once) out."""

import uuid
from datetime import datetime

from pydantic import Field

from api.schemas.base import InputBody, RowWithId
from api.schemas.users import TenantRoleName


class ApiKeyCreate(InputBody):
    name: str = Field(min_length=1, max_length=200, description="what the key is for, e.g. 'web form'")
    role: TenantRoleName = Field(description="at most the creator's own role")


class ApiKeyPublic(RowWithId):
    name: str
    role: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_by_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the clear key: shown only in this response, store it now")

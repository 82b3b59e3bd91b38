"""HTTP shapes of the users API: UserCreate / UserUpdate in, UserPublic out (never the password hash)."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from api.schemas.base import RowWithId
from api.schemas.leads import InvalidEmail, normalize_email
from api.schemas.nul import NulFreeModel
from api.services.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

TenantRoleName = Literal["owner", "admin", "agent"]


def _required_email(value: str) -> str:
    try:
        email = normalize_email(value)
    except InvalidEmail as exc:
        raise ValueError(str(exc)) from None
    if email is None:
        raise ValueError("an e-mail address is required")
    return email


EmailAddress = Annotated[str, Field(max_length=320), AfterValidator(_required_email)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class UserCreate(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: Password
    role: TenantRoleName
    full_name: str = Field(default="", max_length=200)


class UserUpdate(NulFreeModel):
    model_config = ConfigDict(extra="forbid")

    role: TenantRoleName | None = None
    full_name: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None
    password: Password | None = Field(default=None, description="set a new password; ends the user's sessions")


class UserPublic(RowWithId):
    tenant_id: uuid.UUID | None
    email: str
    full_name: str
    role: str
    is_active: bool
    created_at: datetime
    deactivated_at: datetime | None

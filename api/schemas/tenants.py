"""HTTP shapes of the tenants API: TenantCreate / TenantUpdate in, TenantPublic / TenantCreated out."""

from datetime import datetime

from pydantic import Field, field_validator

from api.schemas.base import InputBody, RowWithId
from api.schemas.users import EmailAddress, Password, UserPublic
from api.services.tenants import MAX_SPEED_TO_LEAD_MINUTES, SLUG_PATTERN


class TenantCreate(InputBody):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=63, pattern=SLUG_PATTERN, description="unique, used in workflow ids")
    owner_email: EmailAddress
    owner_password: Password
    owner_name: str = Field(default="", max_length=200)
    default_region: str = Field(default="US", min_length=2, max_length=2, description="ISO region for phones")
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA time zone")
    speed_to_lead_minutes: int = Field(
        default=15, ge=0, le=MAX_SPEED_TO_LEAD_MINUTES, description="0 turns the speed-to-lead alert off"
    )


class TenantUpdate(InputBody):
    """Only the fields sent change. The slug is not among them: it is part of every workflow id of the tenant."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_region: str | None = Field(default=None, min_length=2, max_length=2, description="ISO region for phones")
    timezone: str | None = Field(default=None, min_length=1, max_length=64, description="IANA time zone")
    speed_to_lead_minutes: int | None = Field(
        default=None, ge=0, le=MAX_SPEED_TO_LEAD_MINUTES, description="0 turns the speed-to-lead alert off"
    )

    @field_validator("name", "default_region", "timezone", "speed_to_lead_minutes", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # None is how a field left out reads; sent explicitly it would silently change nothing.
        if value is None:
            raise ValueError("may not be null; leave the field out to keep it")
        return value


class TenantPublic(RowWithId):
    slug: str
    name: str
    default_region: str
    timezone: str
    speed_to_lead_minutes: int
    created_at: datetime


class TenantCreated(TenantPublic):
    owner: UserPublic

"""HTTP shapes of the auth API: LoginRequest in; LoginResponse and Me out."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.schemas.base import RowWithId
from api.schemas.calls import CallOptions
from api.schemas.conversations import WhatsAppOptions
from api.schemas.nul import reject_nul
from api.schemas.users import UserPublic
from domain.permissions import Action


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not validated as an address: a typo must get the same answer as a wrong password. A NUL cannot be looked up.
    email: Annotated[str, AfterValidator(reject_nul)] = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    user: UserPublic
    csrf_token: str = Field(description="send it back in the X-CSRF-Token header on every write (also in a cookie)")


class TenantSummary(RowWithId):
    slug: str
    name: str


class ApiKeySummary(RowWithId):
    name: str
    prefix: str


class TemporalUi(BaseModel):
    url: str = Field(description="the Temporal Web UI's base URL")
    namespace: str


class Me(BaseModel):
    via: Literal["session", "api_key"]
    role: str
    tenant: TenantSummary | None
    user: UserPublic | None
    api_key: ApiKeySummary | None
    permissions: list[Action] = Field(
        description="the actions this caller's role may perform (domain/permissions.py); a client hides the rest, "
        "the server still checks every request"
    )
    telephony: bool = Field(
        default=False,
        description="the caller may place calls now: their role may, the tenant's calls feature is on and it has a "
        "telephony account (the app shows its Call buttons)",
    )
    calls: CallOptions | None = Field(
        default=None,
        description="when `telephony` is true, how a call can be placed: the phone rung first, what a lead called "
        "directly hears; null otherwise",
    )
    whatsapp: WhatsAppOptions | None = Field(
        default=None,
        description="for a caller who may message leads (lead:write), what a first WhatsApp message to a lead may "
        "be; null when they may not or the tenant has no WhatsApp account",
    )
    temporal_ui: TemporalUi | None = Field(
        description="where a lead's workflows can be looked up (search attribute LeadId), for those who run the "
        "tenant (user:manage); null otherwise"
    )

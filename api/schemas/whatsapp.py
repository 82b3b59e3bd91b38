"""HTTP shapes of the tenant's WhatsApp account (secrets write-only) and of shard moves."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.base import InputBody
from core.validation_messages import readable_pattern

PHONE_NUMBER_ID_PATTERN = readable_pattern(
    r"^[0-9A-Za-z_-]+$", "letters, digits, '-' and '_' only: the id Meta shows for the number"
)


class WhatsAppAccountUpdate(InputBody):
    """Replace the account settings. A secret left out (null) keeps its stored value; "" clears it."""

    provider: Literal["cloud", "evolution", "sandbox"]
    phone_number_id: str | None = Field(default=None, max_length=64, pattern=PHONE_NUMBER_ID_PATTERN)
    display_number: str | None = Field(
        default=None,
        max_length=32,
        pattern=readable_pattern(r"^\+?[0-9][0-9 ().-]*$", "a phone number: digits, spaces, '+', '(', ')', '-', '.'"),
        description="the number as people see it",
    )
    access_token: str | None = Field(default=None, max_length=1000)
    app_secret: str | None = Field(default=None, max_length=200)
    verify_token: str | None = Field(default=None, max_length=200)


class WhatsAppAccountPublic(BaseModel):
    provider: str
    phone_number_id: str | None
    display_number: str | None
    has_access_token: bool
    has_app_secret: bool
    has_verify_token: bool
    shard: str | None = Field(description="the Evolution shard serving this tenant (provider evolution)")
    webhook_url: str
    updated_at: datetime


class ShardMove(InputBody):
    shard: str = Field(min_length=1, max_length=63)


class ShardAssignmentPublic(BaseModel):
    tenant_id: uuid.UUID
    shard: str
    base_url: str
    instance: str


class WhatsAppTemplatePublic(BaseModel):
    """A message template the tenant's account knows: named by one of its sequences, or sent before."""

    name: str
    language: str | None = Field(description="the language a sequence sends it in (unknown for one only sent)")
    parameter_count: int | None = Field(description="how many body parameters a sequence gives it")
    sequences: list[str] = Field(description="names of the tenant's sequences that send it")
    sent_count: int = Field(description="messages of the tenant sent with it")
    last_sent_at: datetime | None

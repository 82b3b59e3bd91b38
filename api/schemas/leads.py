"""HTTP shapes of the leads API: LeadCreate / LeadUpdate in, LeadPublic / LeadDetail / LeadPage / LeadImportReport
out.

Phones arrive as typed by a person; the service normalises them with the tenant's region (a schema cannot: it does
not know the tenant). E-mail addresses are checked and lower-cased here so every entry point agrees on one rule.
"""

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from api.schemas.base import InputBody, RowWithId
from api.schemas.jobs import JobPublic
from domain.stages import Stage

# Deliberately pragmatic: one "@", no spaces, a dotted domain. Deliverability is the mail provider's business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
MAX_CUSTOM_FIELDS = 100
# Every lead list and export carries them: a lead's custom fields stay small.
MAX_CUSTOM_FIELDS_BYTES = 16 * 1024


class InvalidEmail(ValueError):
    pass


def normalize_email(raw: str | None) -> str | None:
    """Trimmed, lower-cased address; None for an empty value; InvalidEmail when it is not an address."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > 320 or not _EMAIL.match(text):
        raise InvalidEmail(f"'{text[:80]}' is not an e-mail address")
    return text.lower()


def _email(value: str | None) -> str | None:
    try:
        return normalize_email(value)
    except InvalidEmail as exc:
        raise ValueError(str(exc)) from None


def _custom_fields(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(value) > MAX_CUSTOM_FIELDS:
        raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
    if value is not None and len(json.dumps(value, ensure_ascii=False).encode()) > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"at most {MAX_CUSTOM_FIELDS_BYTES} bytes of custom fields (as JSON)")
    return value


Email = Annotated[str | None, AfterValidator(_email)]
CustomFields = Annotated[dict[str, Any], AfterValidator(_custom_fields)]


class LeadCreate(InputBody):
    phone: str = Field(min_length=1, max_length=40, description="any format; national numbers use the tenant region")
    name: str = Field(default="", max_length=200)
    email: Email = Field(default=None, max_length=320)
    source: str = Field(default="api", min_length=1, max_length=40)
    owner_id: uuid.UUID | None = None
    custom_fields: CustomFields = Field(default_factory=dict)
    status: str | None = Field(default=None, max_length=63, description="status key; the tenant default if omitted")


class LeadUpdate(InputBody):
    """Every field optional; only the fields sent change. Status changes go through POST /leads/{id}/status."""

    phone: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    email: Email = Field(default=None, max_length=320)
    owner_id: uuid.UUID | None = None
    custom_fields: CustomFields | None = None


class LeadPublic(RowWithId):
    phone: str
    name: str
    email: str | None
    source: str
    owner_id: uuid.UUID | None
    status: str = Field(validation_alias="status_key")
    stage: Stage
    timezone: str
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class LeadDetail(LeadPublic):
    """One lead as its page shows it: with its owner's name, so people who may not list the tenant's users (agents)
    still see who owns it."""

    owner_name: str | None = Field(description="the owner's full name, else their e-mail; null without an owner")


class LeadPage(BaseModel):
    items: list[LeadPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class LeadStatusChange(InputBody):
    status: str = Field(min_length=1, max_length=63, description="key of one of the tenant's status definitions")
    reason: str | None = Field(default=None, max_length=500)


class TimelineEventPublic(RowWithId):
    kind: str
    actor: str = Field(
        description="who did it: `user:<id>`, `api_key:<id>`, `sequence:<id>`, `lead:<id>`, `ai_agent`, `system` …"
    )
    actor_name: str | None = Field(
        description="the display name of the person (full name, else e-mail), API key or sequence `actor` names; "
        "null for other actors and for one deleted since"
    )
    data: dict[str, Any]
    occurred_at: datetime


SkipCode = Literal[
    "too_many_values",
    "nul_character",
    "invalid_phone",
    "invalid_email",
    "unknown_status",
    "no_default_status",
    "unknown_owner",
    "deactivated_owner",
    "too_long",
    "duplicate_in_file",
    "duplicate_of_existing",
]


class SkippedRow(BaseModel):
    line: int = Field(description="line number in the file, the header being line 1")
    code: SkipCode = Field(description="why, for programs and the job's counts by reason")
    reason: str = Field(description="why, for people")
    field: str | None = None
    phone: str | None = Field(default=None, description="the phone as written in the file")
    existing_lead_id: uuid.UUID | None = None


class LeadImportReport(BaseModel):
    """202: the rows are stored; `job` starts their workflows behind the answer (GET /jobs/{id} for progress)."""

    imported: int
    skipped: list[SkippedRow]
    lead_ids: list[uuid.UUID]
    job: JobPublic

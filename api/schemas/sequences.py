"""HTTP shapes of the sequences API: SequenceCreate / SequenceUpdate / SequencePreviewRequest in, SequencePublic /
SequenceVersionPublic / SequencePreview out.

`steps` and `settings` arrive as plain JSON on purpose: domain.sequences.parse_definition validates them and answers
one 422 listing every problem as `{path, message}` with paths like `steps[2].text`, which a builder UI can put next
to the field. Typing them here would answer FastAPI's own error shape instead, one step at a time. Only a NUL
character, which PostgreSQL cannot store, is refused before that (NulFreeModel: a 422 naming `steps` or `settings`).
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field, model_validator

from api.schemas.base import InputBody
from domain.sequences.preview import PreviewStep

SequenceStatus = Literal["draft", "active", "archived"]


class SequenceCreate(InputBody):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    steps: list[Any] = Field(description="typed steps (send_whatsapp, wait, wait_for_reply, task, set_status)")
    settings: dict[str, Any] = Field(default_factory=dict, description="exit rules, business hours, caps, pacing")


class SequenceUpdate(InputBody):
    """Edits the draft; only the fields sent change. A published version never changes: publish again for n+1."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    steps: list[Any] | None = None
    settings: dict[str, Any] | None = None


class SequencePublic(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    status: SequenceStatus
    steps: list[dict[str, Any]] = Field(
        description="the draft's steps, normalised (ids assigned, durations as objects)"
    )
    settings: dict[str, Any]
    latest_version: int | None = Field(description="the version new enrollments start on; null until published")
    has_unpublished_changes: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class SequenceVersionPublic(BaseModel):
    sequence_id: uuid.UUID
    version: int
    steps: list[dict[str, Any]]
    settings: dict[str, Any]
    published_by: str
    published_at: datetime


# Plans further away are mistakes, and date arithmetic near year 1 or 9999 overflows (a 500).
MAX_START_DISTANCE = timedelta(days=5 * 366)


def check_start_at(start_at: datetime | None) -> None:
    """A step-1 time must carry its offset and lie less than five years ahead or behind."""
    if start_at is None:
        return
    if start_at.utcoffset() is None:
        raise ValueError("start_at needs a time zone offset, e.g. 2026-12-01T09:00:00Z")
    now = datetime.now(UTC)
    if start_at > now + MAX_START_DISTANCE:
        raise ValueError("start_at is more than five years ahead")
    if start_at < now - MAX_START_DISTANCE:
        raise ValueError("start_at is more than five years in the past")


class _StartsAt(Protocol):
    start_at: datetime | None


M = TypeVar("M", bound=_StartsAt)


def one_of_and_start(model: M, first: str, second: str) -> M:
    """The model of a request that names exactly one of two fields, and a valid `start_at` (check_start_at)."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise ValueError(f"send exactly one of '{first}' or '{second}'")
    check_start_at(model.start_at)
    return model


# Version numbers are PostgreSQL integers: a larger one names no version, and is refused as such before any query.
MAX_VERSION = 2**31 - 1


class SequencePreviewRequest(InputBody):
    """Exactly one of `phone` or `lead_id`. Without `version` the draft is previewed."""

    phone: str | None = Field(default=None, min_length=1, max_length=40, description="any format, tenant region")
    lead_id: uuid.UUID | None = None
    start_at: datetime | None = Field(default=None, description="ISO-8601 with offset; default now")
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="a published version; default the draft"
    )
    name: str | None = Field(default=None, max_length=200, description="sample lead name when previewing a phone")

    @model_validator(mode="after")
    def _one_target(self) -> "SequencePreviewRequest":
        return one_of_and_start(self, "phone", "lead_id")


class SequencePreview(BaseModel):
    sequence_id: uuid.UUID
    version: int | None = Field(description="the version previewed; null for the draft")
    phone: str
    lead_id: uuid.UUID | None
    timezone: str = Field(description="the lead's zone: from the phone, else the sequence's or tenant's fallback")
    start_at: datetime
    steps: list[PreviewStep]


class StepStats(BaseModel):
    step_id: str
    type: str
    in_latest_version: bool = Field(description="false for a step only older versions have")
    sends: int = Field(description="messages accepted by the provider (send_whatsapp)")
    failures: int = Field(description="sends or status changes that failed for good")
    results: dict[str, int] = Field(description="every recorded outcome: sent, failed, deferred, replied, ...")


class SequenceStats(BaseModel):
    sequence_id: uuid.UUID
    enrolled: int = Field(description="enrollments ever made, all versions")
    active: int
    paused: int
    completed: int
    exited: int
    stopped: int
    exited_by_reason: dict[str, int] = Field(description="exited and stopped enrollments by reason (replied, ...)")
    replies: int = Field(description="replies received during enrollments")
    replied_enrollments: int
    steps: list[StepStats] = Field(description="latest version's steps in order, then steps of older versions")

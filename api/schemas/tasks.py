"""HTTP shapes of the task inbox: TaskPublic out, TaskActionRequest in (complete / skip)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.base import InputBody, RowWithId

TaskStatus = Literal["open", "completed", "skipped", "cancelled"]


class TaskPublic(RowWithId):
    lead_id: uuid.UUID
    lead_name: str = Field(description="the lead's name (empty when the lead has none: show `lead_phone`)")
    lead_phone: str = Field(description="the lead's phone, E.164")
    enrollment_id: uuid.UUID | None
    step_id: str | None
    title: str
    description: str | None
    assignee_id: uuid.UUID | None
    due_at: datetime
    overdue: bool = Field(default=False, description="open and past its due time")
    status: TaskStatus
    closed_at: datetime | None
    closed_by: str | None
    note: str | None
    outcome: str | None = Field(description="what came of the task, as the person closing it put it")
    created_at: datetime


class TaskActionRequest(InputBody):
    note: str | None = Field(default=None, max_length=2000)
    outcome: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="what came of it, e.g. 'reached', 'no answer', 'meeting booked' (free text)",
    )

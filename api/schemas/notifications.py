"""HTTP shapes of notifications: NotificationPublic, NotificationPage."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.base import RowWithId
from domain.notifications import NotificationKind


class NotificationPublic(RowWithId):
    kind: NotificationKind
    title: str
    lead_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationPublic] = Field(description="newest first")
    unread_count: int = Field(description="the caller's unread notifications, whatever the filter")

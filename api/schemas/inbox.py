"""HTTP shapes of the webhook inbox for system admins: InboxOverview (counts, oldest open age, parked events)."""

from datetime import datetime

from pydantic import BaseModel, Field

from api.schemas.base import FromRow


class ParkedEvent(FromRow):
    id: int
    provider: str
    account_id: str
    event_key: str
    kind: str
    attempts: int
    last_error: str | None
    received_at: datetime
    handled_at: datetime | None = Field(description="when it was parked")


class InboxOverview(BaseModel):
    counts: dict[str, int] = Field(description="events by state: pending, processing, done, parked")
    oldest_open_age_seconds: float | None = Field(
        description="age of the oldest event not yet handled (pending or processing); null when none waits"
    )
    parked: list[ParkedEvent] = Field(description="events parked after failing every attempt, oldest first")


class RequeuedEvent(BaseModel):
    id: int
    state: str

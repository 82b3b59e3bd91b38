"""The webhook inbox as a system admin sees it: its health, its parked events, and putting one back in line."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.inbox import InboxOverview, ParkedEvent, RequeuedEvent
from core.errors import NotFound
from repositories.webhook_inbox import WebhookInboxRepository


@dataclass(frozen=True)
class InboxBacklog:
    counts: dict[str, int]  # by state
    oldest_open_age_seconds: float | None  # None: nothing open


async def backlog(*, session: AsyncSession) -> InboxBacklog:
    """Counts by state and the oldest open event's age (the overview's head, and the metrics' gauges)."""
    stats = await WebhookInboxRepository(session).stats()
    age = None
    if stats.oldest_pending_at is not None:
        age = max(0.0, (datetime.now(tz=UTC) - stats.oldest_pending_at).total_seconds())
    return InboxBacklog(counts=stats.counts, oldest_open_age_seconds=age)


async def overview(*, session: AsyncSession, limit: int) -> InboxOverview:
    """Counts by state, the oldest open event's age, and the parked events."""
    head = await backlog(session=session)
    parked = [ParkedEvent.model_validate(row) for row in await WebhookInboxRepository(session).list_parked(limit=limit)]
    return InboxOverview(counts=head.counts, oldest_open_age_seconds=head.oldest_open_age_seconds, parked=parked)


async def retry_parked(*, session: AsyncSession, event_id: int) -> RequeuedEvent:
    """Put a parked event back in line with a fresh attempt count; 404 when no parked event has this id."""
    if not await WebhookInboxRepository(session).requeue_parked(inbox_id=event_id):
        raise NotFound(f"no parked webhook event with id {event_id}")
    return RequeuedEvent(id=event_id, state="pending")

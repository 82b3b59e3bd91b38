"""`GET /api/v1/admin/inbox` and `POST /api/v1/admin/inbox/{id}/retry` (system_admin): the webhook inbox's health
and its parked events, which a system admin puts back in line once the cause is fixed."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import SessionDep
from api.schemas.inbox import InboxOverview, ParkedEvent, RequeuedEvent
from api.security import Principal, require
from core.errors import NotFound
from domain.permissions import Action
from repositories.webhook_inbox import WebhookInboxRepository

router = APIRouter(prefix="/admin/inbox", tags=["admin"])

InboxManager = Annotated[Principal, Depends(require(Action.WEBHOOK_INBOX_MANAGE))]


@router.get("")
async def inbox_overview(
    principal: InboxManager, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> InboxOverview:
    """Counts by state, the oldest open event's age, and the parked events."""
    inbox = WebhookInboxRepository(session)
    stats = await inbox.stats()
    age = None
    if stats.oldest_pending_at is not None:
        age = max(0.0, (datetime.now(tz=UTC) - stats.oldest_pending_at).total_seconds())
    parked = [ParkedEvent.model_validate(row) for row in await inbox.list_parked(limit=limit)]
    return InboxOverview(counts=stats.counts, oldest_open_age_seconds=age, parked=parked)


@router.post("/{event_id}/retry", responses={404: {"description": "no parked event with this id"}})
async def retry_parked_event(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="the inbox event's id")],
    principal: InboxManager,
    session: SessionDep,
) -> RequeuedEvent:
    """Put a parked event back in line with a fresh attempt count."""
    if not await WebhookInboxRepository(session).requeue_parked(inbox_id=event_id):
        raise NotFound(f"no parked webhook event with id {event_id}")
    return RequeuedEvent(id=event_id, state="pending")

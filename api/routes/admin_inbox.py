"""`GET /api/v1/admin/inbox` and `POST /api/v1/admin/inbox/{id}/retry` (system_admin): the webhook inbox's health
and its parked events, which a system admin puts back in line once the cause is fixed."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import SessionDep
from api.schemas.inbox import InboxOverview, RequeuedEvent
from api.security import InboxManager
from api.services import admin_inbox as service

router = APIRouter(prefix="/admin/inbox", tags=["admin"])


@router.get("")
async def inbox_overview(
    principal: InboxManager, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> InboxOverview:
    """Counts by state, the oldest open event's age, and the parked events."""
    return await service.overview(session=session, limit=limit)


@router.post("/{event_id}/retry", responses={404: {"description": "no parked event with this id"}})
async def retry_parked_event(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="the inbox event's id")],
    principal: InboxManager,
    session: SessionDep,
) -> RequeuedEvent:
    """Put a parked event back in line with a fresh attempt count."""
    return await service.retry_parked(session=session, event_id=event_id)

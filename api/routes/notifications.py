"""The caller's notifications under /api/v1/notifications: list, mark one read, mark all read. Any logged-in person
of a tenant; another person's notification is a 404. New ones also arrive live (`notification.created`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep
from api.schemas.notifications import NotificationPage
from api.security import Authenticated
from api.services import notifications as service

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def list_notifications(
    principal: Authenticated,
    session: SessionDep,
    unread: Annotated[bool, Query(description="only unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """Newest first, with the unread count."""
    return await service.list_notifications(session=session, principal=principal, unread_only=unread, limit=limit)


@router.post("/{notification_id}/read", status_code=204)
async def mark_notification_read(notification_id: uuid.UUID, principal: Authenticated, session: SessionDep) -> Response:
    await service.mark_read(session=session, principal=principal, notification_id=notification_id)
    return Response(status_code=204)


@router.post("/read", status_code=204)
async def mark_all_notifications_read(principal: Authenticated, session: SessionDep) -> Response:
    """Every unread notification of the caller becomes read."""
    await service.mark_read(session=session, principal=principal, notification_id=None)
    return Response(status_code=204)

"""The caller's notifications: list, mark one or all read. They belong to a person: an API key has none."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.schemas.notifications import NotificationPage, NotificationPublic
from api.services import not_found
from core.errors import Forbidden
from repositories.notifications import NotificationRepository


def _person(principal: Principal) -> tuple[uuid.UUID, uuid.UUID]:
    if principal.via != "session" or principal.user_id is None:
        raise Forbidden("notifications belong to people: log in to read yours")
    return principal.tenant(), principal.user_id


async def list_notifications(
    *, session: AsyncSession, principal: Principal, unread_only: bool, limit: int
) -> NotificationPage:
    """The caller's notifications newest first, with their unread count."""
    tenant_id, user_id = _person(principal)
    repository = NotificationRepository(session)
    rows = await repository.list_for(tenant_id=tenant_id, user_id=user_id, unread_only=unread_only, limit=limit)
    unread = await repository.unread_count(tenant_id=tenant_id, user_id=user_id)
    return NotificationPage(items=[NotificationPublic.model_validate(row) for row in rows], unread_count=unread)


async def mark_read(*, session: AsyncSession, principal: Principal, notification_id: uuid.UUID | None) -> int:
    """Mark one of the caller's notifications read (404 when it is not theirs), or all of them; how many."""
    tenant_id, user_id = _person(principal)
    marked = await NotificationRepository(session).mark_read(
        tenant_id=tenant_id, user_id=user_id, at=datetime.now(UTC), notification_id=notification_id
    )
    if notification_id is not None and marked == 0:
        raise not_found("notification", notification_id)
    return marked

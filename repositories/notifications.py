"""SQL for notifications: one person's, newest first; added once per idempotency key; marked read."""

import builtins
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from models import Notification, User
from repositories.base import Repository


class NotificationRepository(Repository[Notification]):
    model = Notification

    async def add_once(self, values: dict[str, Any]) -> uuid.UUID | None:
        """The new notification's id; None when its idempotency key was used before (nothing added)."""
        result = await self.session.execute(
            insert(Notification)
            .values({"id": uuid.uuid4(), **values})
            .on_conflict_do_nothing(index_elements=[Notification.idempotency_key])
            .returning(Notification.id)
        )
        return result.scalar_one_or_none()

    async def notify(
        self,
        *,
        tenant_id: uuid.UUID,
        user_ids: builtins.list[uuid.UUID],
        kind: str,
        title: str,
        lead_id: uuid.UUID | None,
        key: str,
        data: dict[str, Any] | None = None,
    ) -> builtins.list[uuid.UUID]:
        """One notification per person (each once per `key`); the people newly notified."""
        notified = []
        for user_id in dict.fromkeys(user_ids):
            added = await self.add_once(
                {
                    "tenant_id": tenant_id,
                    "user_id": user_id,
                    "kind": kind,
                    "title": title[:300],
                    "lead_id": lead_id,
                    "data": data or {},
                    "idempotency_key": f"{key}:{user_id}"[:300],
                }
            )
            if added is not None:
                notified.append(user_id)
        return notified

    async def list_for(
        self, *, tenant_id: uuid.UUID, user_id: uuid.UUID, unread_only: bool, limit: int
    ) -> builtins.list[Notification]:
        statement = select(Notification).where(Notification.tenant_id == tenant_id, Notification.user_id == user_id)
        if unread_only:
            statement = statement.where(Notification.read_at.is_(None))
        return await self._newest(statement, limit)

    async def unread_count(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count()).where(
                Notification.tenant_id == tenant_id, Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        return int(result.scalar_one())

    async def mark_read(
        self, *, tenant_id: uuid.UUID, user_id: uuid.UUID, at: datetime, notification_id: uuid.UUID | None = None
    ) -> int:
        """Mark one notification (or, without an id, all of the person's) read; how many rows matched."""
        statement = update(Notification).where(Notification.tenant_id == tenant_id, Notification.user_id == user_id)
        if notification_id is not None:
            statement = statement.where(Notification.id == notification_id)
        else:
            statement = statement.where(Notification.read_at.is_(None))
        result = await self.session.execute(
            statement.values(read_at=func.coalesce(Notification.read_at, at)).returning(Notification.id)
        )
        return len(result.all())

    async def tenant_owners(self, *, tenant_id: uuid.UUID) -> builtins.list[uuid.UUID]:
        """The active owners of a tenant: who hears about its bill (the AI agent's budget)."""
        result = await self.session.execute(
            select(User.id).where(User.tenant_id == tenant_id, User.is_active, User.role == "owner")
        )
        return list(result.scalars())

    async def tenant_managers(self, *, tenant_id: uuid.UUID) -> builtins.list[uuid.UUID]:
        """The active owners and admins of a tenant: who hears of a lead nobody owns."""
        result = await self.session.execute(
            select(User.id).where(User.tenant_id == tenant_id, User.is_active, User.role.in_(("owner", "admin")))
        )
        return list(result.scalars())

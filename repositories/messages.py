"""SQL for WhatsApp messages. Inbound inserts are idempotent on the provider message id; statuses never regress."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from models import Message
from repositories.base import Repository

# A status replaces the current one only when it ranks higher: a late "delivered" never overwrites "read".
STATUS_RANK = {"pending": 0, "received": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}
_TIMESTAMP_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}


# Built once on the Core table: every inbound message runs it (see repositories/webhook_events.py).
_MESSAGES = cast(Table, Message.__table__)
_INSERT_ONCE = (
    insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=[_MESSAGES.c.tenant_id, _MESSAGES.c.provider_message_id])
    .returning(_MESSAGES.c.id)
)


def _rank(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=0)


class MessageRepository(Repository[Message]):
    model = Message

    async def insert_once(self, values: dict[str, Any]) -> uuid.UUID | None:
        """Insert a message; None when the tenant has one with the same provider message id (a repeated webhook)."""
        result = await self.session.execute(_INSERT_ONCE, {"id": uuid.uuid4(), **values})
        return result.scalar_one_or_none()

    async def sent_templates(self, *, tenant_id: uuid.UUID, limit: int = 200) -> list[tuple[str, int, datetime]]:
        """Templates the tenant sent: (name, times sent, last sent), most recently sent first."""
        last = func.max(Message.occurred_at)
        result = await self.session.execute(
            select(Message.template, func.count(), last)
            .where(Message.tenant_id == tenant_id, Message.direction == "outbound", Message.template.is_not(None))
            .group_by(Message.template)
            .order_by(last.desc())
            .limit(limit)
        )
        return [(name, count, at) for name, count, at in result.all() if name is not None]

    async def get(self, *, message_id: uuid.UUID) -> Message | None:
        return await self.session.get(Message, message_id, populate_existing=True)

    async def get_by_provider_id(self, *, tenant_id: uuid.UUID, provider_message_id: str) -> Message | None:
        result = await self.session.execute(
            select(Message)
            .where(Message.tenant_id == tenant_id, Message.provider_message_id == provider_message_id)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def apply_status(
        self,
        *,
        tenant_id: uuid.UUID,
        provider_message_id: str,
        status: str,
        at: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Message | None:
        """Record a status event: its timestamp always (first one wins), the status only if it moves forward.

        Returns the message, or None when this tenant has no message with this provider id (not sent by us, not yet
        recorded, or another tenant's: any tenant signs its own webhooks, so the id alone must never reach across).
        """
        values: dict[str, Any] = {
            "status": case((_rank(Message.status) < STATUS_RANK.get(status, 0), status), else_=Message.status)
        }
        column = _TIMESTAMP_COLUMN.get(status)
        if column is not None:
            values[column] = func.coalesce(getattr(Message, column), at)
        if status == "failed":
            values["error_code"] = func.coalesce(Message.error_code, error_code)
            values["error_message"] = func.coalesce(Message.error_message, error_message)
        result = await self.session.execute(
            update(Message)
            .where(Message.tenant_id == tenant_id, Message.provider_message_id == provider_message_id)
            .values(**values)
            .returning(Message.id)
        )
        message_id = result.scalar_one_or_none()
        return None if message_id is None else await self.get(message_id=message_id)

    async def list_for_lead(
        self,
        *,
        tenant_id: uuid.UUID,
        lead_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[Message]:
        """Newest first, keyset-paginated strictly below `before`."""
        conditions = [Message.tenant_id == tenant_id, Message.lead_id == lead_id]
        if before is not None:
            conditions.append(tuple_(Message.occurred_at, Message.id) < tuple_(before[0], before[1]))
        return await self._all(
            select(Message).where(*conditions).order_by(Message.occurred_at.desc(), Message.id.desc()).limit(limit)
        )

"""SQL for the WhatsApp outbox: claim a send by its idempotency key, record the attempt, then how it ended."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects.postgresql import JSONB

from models import OutboxMessage
from repositories.base import Repository

# The two writes of every send that goes out, built once on the Core table (built per call through the ORM, they
# cost the sender more CPU than PostgreSQL spends running them).
_OUTBOX = cast(Table, OutboxMessage.__table__)
_MARK_SENDING = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outbox_id"))
    .values(
        state="sending",
        started_at=bindparam("at"),
        payload=bindparam("attempt_payload", type_=JSONB),
        attempts=_OUTBOX.c.attempts + 1,
    )
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outbox_id"))
    .values(state="sent", provider_message_id=bindparam("sent_as"), message_id=bindparam("stored_as"))
)


class OutboxRepository(Repository[OutboxMessage]):
    model = OutboxMessage

    async def claim(
        self, *, idempotency_key: str, tenant_id: uuid.UUID, lead_id: uuid.UUID, payload: dict[str, Any]
    ) -> OutboxMessage:
        """The row for this key, created if absent and locked for this transaction (one sender per key at a time)."""
        values = {"idempotency_key": idempotency_key, "tenant_id": tenant_id, "lead_id": lead_id, "payload": payload}
        return await self._insert_once("idempotency_key", values, lock=True, state="pending", attempts=0)

    async def get(self, *, idempotency_key: str) -> OutboxMessage | None:
        return await self._one_by("idempotency_key", idempotency_key)

    async def lock(self, *, idempotency_key: str) -> OutboxMessage | None:
        """The row for this key, locked for this transaction (re-read, not from the identity map)."""
        return await self._one_by("idempotency_key", idempotency_key, lock=True)

    async def mark_sending(self, *, outbox_id: uuid.UUID, payload: dict[str, Any], at: datetime) -> None:
        """The attempt about to go to the provider: committed before the call, so a crash mid-call is visible."""
        await self.session.execute(_MARK_SENDING, {"outbox_id": outbox_id, "at": at, "attempt_payload": payload})

    async def mark_pending(self, *, outbox_id: uuid.UUID) -> None:
        """The provider answered that it did not take the message: the next attempt may send at once."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "sending")
            .values(state="pending")
        )

    async def mark_sent(self, *, outbox_id: uuid.UUID, provider_message_id: str, message_id: uuid.UUID) -> None:
        await self.session.execute(
            _MARK_SENT, {"outbox_id": outbox_id, "sent_as": provider_message_id, "stored_as": message_id}
        )

    async def set_payload(self, *, outbox_id: uuid.UUID, payload: dict[str, Any]) -> None:
        await self.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(payload=payload))

    async def mark_failed(self, *, outbox_id: uuid.UUID, error_code: str, error_message: str) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(state="failed", error_code=error_code[:40], error_message=error_message[:500])
        )

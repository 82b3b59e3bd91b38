"""A verified provider webhook event waiting for the dispatcher: stored by the webhook route, handled behind it.

One row per event of a delivery, inserted in one statement before the route answers 200. `event_key` is the
provider's own key for the event (`message:<id>`, `status:<id>:<status>`, ...): a redelivery hits the unique
constraint and stores nothing. `order_key` names the person the event is about on that account; the dispatcher
never handles an event while an earlier one of the same `order_key` is still pending, so one lead's events keep the
provider's order while different leads run in parallel.

States: `pending` (waiting, or waiting for `available_at` after a failed attempt) -> `processing` (claimed by a
dispatcher until `lease_until`; an expired lease is claimed again) -> `done`, or `parked` after too many failed
attempts (kept with its error for a system admin, who may put it back to `pending`).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class WebhookInbox(Base):
    __tablename__ = "webhook_inbox"
    __table_args__ = (UniqueConstraint("provider", "account_id", "event_key"),)

    # Arrival order: the dispatcher keeps it per order_key.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    # Meta's phone_number_id, or the Evolution shard's name: who the delivery was verified for.
    account_id: Mapped[str] = mapped_column(String(100))
    event_key: Mapped[str] = mapped_column(String(300))
    order_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    # Known when verification already named the tenant (Cloud); Evolution events are routed by the dispatcher.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column()
    event: Mapped[dict[str, Any]] = mapped_column(JSONB)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(20), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

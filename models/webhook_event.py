"""A provider webhook event, stored raw before anything else happens; unique on (provider, provider_event_id).

The unique key is what makes a repeated delivery harmless. `signalled_at` stays empty until the lead workflow has
been signalled, so a repeat of an event whose signal failed signals again instead of being dropped.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin


class WebhookEvent(IdMixin, Base):
    __tablename__ = "webhook_event"
    # Per tenant: another tenant signing an event with our provider id must not make our real delivery a "repeat".
    __table_args__ = (UniqueConstraint("provider", "tenant_id", "provider_event_id"),)

    provider: Mapped[str] = mapped_column(String(20))
    provider_event_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    signalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

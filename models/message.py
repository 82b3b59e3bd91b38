"""One WhatsApp message, inbound or outbound. `provider_message_id` is unique: status webhooks find it by that id.

Status only moves forward (pending < sent < delivered < read); `failed` may follow any of them except read.
"""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Message(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider_message_id"),  # per tenant, like webhook events
        Index("ix_message_conversation_occurred", "conversation_id", "occurred_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    kind: Mapped[str] = mapped_column(String(20), default="text")  # text | template | button | reaction | ...
    body: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # received | pending | sent | delivered | read | failed
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(String(500))
    sent_by: Mapped[str | None] = mapped_column(String(80))  # who asked for an outbound message
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

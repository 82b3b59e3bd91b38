"""A conversation: the thread of messages between a tenant and one lead on one channel (one per lead+channel)."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Conversation(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("lead_id", "channel"),
        Index("ix_conversation_tenant_last_message", "tenant_id", "last_message_at", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20), default="whatsapp")
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_preview: Mapped[str] = mapped_column(String(200), default="")
    unread_count: Mapped[int] = mapped_column(default=0)
    # Set when the lead asked to stop (a STOP-style keyword) or WhatsApp reported it (131050): nothing is sent after,
    # whatever the lead's status (a won or lost lead may opt out too).
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who answers the lead (domain.ai_agent.ConversationHandler). The lead workflow decides; this column mirrors its
    # decisions (handoff, a person's message, a hand-back or take-over) for the inbox's list and filter.
    handler: Mapped[str] = mapped_column(String(20), default="unassigned", server_default="unassigned")

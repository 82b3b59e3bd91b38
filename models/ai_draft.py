"""An AI reply waiting for a person: the tenant's agent is in draft mode, or the facts guardrail held the reply.

`pending` until an agent approves (optionally edited: `final_text`), rejects it, a newer message from the lead
withdraws it, or it times out (`expired`, with a task for the lead's owner). Approve and reject go through the
lead's workflow (an update), which owns the decision; this row mirrors it. Unique on `turn_key` (the AI turn).
"""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class AiDraft(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "ai_draft"
    __table_args__ = (Index("ix_ai_draft_tenant_status", "tenant_id", "status", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(300))
    turn_key: Mapped[str] = mapped_column(String(300), unique=True)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(300))  # draft_mode | guardrail: <what was not in the facts>
    settings_version: Mapped[int] = mapped_column(Integer)
    # pending | approved | rejected | withdrawn | expired | failed (approved, but the outbox refused the send)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    final_text: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[uuid.UUID | None] = mapped_column()  # the sent message, once approved
    task_id: Mapped[uuid.UUID | None] = mapped_column()  # the task an expired draft became

"""A manual step for an agent (call the lead, send a quote...), created by a sequence's `task` step.

Open until an agent completes or skips it. A task its enrollment waits for (`blocks_enrollment`) is closed through
the enrollment's workflow update, so the waiting sequence hears of it; one that does not block
(`wait_for_completion: false`) is closed by the API directly. `cancelled` when the enrollment ended first.
`escalated_at` marks the one overdue escalation on the lead's timeline. Unique on `idempotency_key` (enrollment step
execution).
"""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Task(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "task"
    __table_args__ = (Index("ix_task_inbox", "tenant_id", "assignee_id", "status", "due_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(4000))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocks_enrollment: Mapped[bool] = mapped_column(Boolean, server_default=true())
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | skipped | cancelled
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(2000))
    outcome: Mapped[str | None] = mapped_column(String(80))  # what came of it, as the agent put it
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)

"""A lead's enrollment in one published sequence version, and the history of the steps it ran.

The SequenceWorkflow (workflows/sequence.py) owns the process; these rows are its read model, written by the
idempotent `sequence.mirror_enrollment` activity: `revision` only grows, so a late mirror never overwrites a newer
state. The API answers GET /enrollments/{id} and the sequence stats from here.

At most one active or paused enrollment per lead and sequence (partial unique index): a repeated bulk enrollment
finds the existing one instead of starting a second.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Enrollment(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "enrollment"
    __table_args__ = (
        Index(
            "uq_enrollment_open_per_lead",
            "sequence_id",
            "lead_id",
            unique=True,
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        Index("ix_enrollment_tenant_sequence_status", "tenant_id", "sequence_id", "status"),
        Index(
            "ix_enrollment_workflow_not_started",
            "created_at",
            postgresql_where=text("workflow_started_at IS NULL AND revision = 0"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    sequence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    sequence_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequence_version.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|paused|completed|exited|stopped
    current_step_index: Mapped[int | None] = mapped_column()
    current_step_id: Mapped[str | None] = mapped_column(String(64))
    current_step_type: Mapped[str | None] = mapped_column(String(40))
    next_action_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exit_reason: Mapped[str | None] = mapped_column(String(40))
    exit_detail: Mapped[str | None] = mapped_column(String(500))
    steps_run: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    open_task_id: Mapped[uuid.UUID | None] = mapped_column()
    revision: Mapped[int] = mapped_column(default=0)
    # When a start of its workflow was first confirmed; NULL with revision 0: maybe never (the sweeper starts it).
    workflow_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enrolled_by: Mapped[str] = mapped_column(String(80), default="system")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A person's stop or pause as the API recorded it, before the workflow (maybe queued behind a burst) hears of it:
    # the send path reads these when it decides a send (channels/whatsapp/outbox.py). A resume clears the pause.
    stop_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pause_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    control_detail: Mapped[str | None] = mapped_column(String(500))  # "stopped by <actor>: <reason>"
    # A message from the lead received after this ends the enrollment as `replied`; NULL when a reply would not end
    # it. Mirrored by the workflow, applied by the dispatcher in the reply's transaction (repositories/enrollments.py).
    exits_on_reply_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class EnrollmentStep(IdMixin, Base):
    """One thing an enrollment did at one step (sent, failed, deferred, replied, task_completed...).

    Unique on (enrollment, number, result): a step execution has one row per outcome it went through, written once;
    an outcome repeated within the execution (a send the cap deferred again) updates that row, `data.times` counting
    the repeats for the stats.
    Also the daily cap's ledger: a `reserved` row of a send takes one of the tenant's sends of its day (`fired_at`,
    workflow time).
    """

    __tablename__ = "enrollment_step"
    __table_args__ = (
        Index("uq_enrollment_step_outcome", "enrollment_id", "number", "result", unique=True),
        Index("ix_enrollment_step_tenant_type_fired", "tenant_id", "type", "fired_at"),
        Index("ix_enrollment_step_sequence", "sequence_id", "step_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    sequence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    step_index: Mapped[int] = mapped_column()
    step_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(1000))
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

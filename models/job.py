"""A background job: work a request accepted and answered at once (202) and that runs behind it, with its progress.

Kinds: `bulk_enrollment` (POST /sequences/{id}/enrollments) and `lead_import` (POST /leads/import). The request
commits its rows and the job in one transaction; the job's workflow (workflows/bulk_start.py) then starts one
workflow per row, a chunk at a time, recording progress here after each chunk.

Every item the request named ends in exactly one of `started`, `skipped` (refused by the request itself, with its
reason) or `failed` (its row is saved but its workflow could not be started; the sweeper tries again), so
started + skipped + failed = total once the job is done. `item_ids` are the rows (enrollments, leads) whose
workflows the job starts, in order; `retry_ids` are rows of earlier requests named again whose workflows never
started (counted under `skipped` with their reason): the job starts them after the items. `next_offset` is how far
through both the job got: a chunk recorded twice (a retried activity) counts once.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin

OPEN_JOB_STATES = ("queued", "running")


class Job(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_tenant_created", "tenant_id", "created_at"),
        # The sweeper reads only jobs that have not ended.
        Index("ix_job_open_updated", "updated_at", postgresql_where=text("state IN ('queued', 'running')")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # bulk_enrollment | lead_import
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    created_by: Mapped[str] = mapped_column(String(80))
    total: Mapped[int] = mapped_column(default=0)
    started: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    skipped_by_reason: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    skipped_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # the first ones, capped
    failed: Mapped[int] = mapped_column(default=0)
    failed_by_reason: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    failed_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # the first ones, capped
    error: Mapped[str | None] = mapped_column(Text)
    item_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    retry_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    next_offset: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

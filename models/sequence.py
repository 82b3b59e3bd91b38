"""Outreach sequence definitions: the editable draft (`Sequence`) and its frozen, published versions.

A sequence's `definition` is the draft an owner edits (validated JSON of domain.sequences.SequenceDefinition). Each
publish copies it into a new `SequenceVersion` numbered n+1 that is never changed afterwards: an enrollment points at
the version it started with, so editing or republishing never alters a running enrollment.

Status: `draft` (never published), `active` (has a published version; new enrollments use the latest), `archived`
(no new enrollments; running ones carry on).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Sequence(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "sequence"
    __table_args__ = (
        Index("ix_sequence_tenant_created", "tenant_id", "created_at"),
        UniqueConstraint("tenant_id", "create_idempotency_key"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | active | archived
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The number of the latest published version (None: never published).
    latest_version: Mapped[int | None] = mapped_column()
    # The draft differs from the latest version (edited since the last publish).
    has_unpublished_changes: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The creating POST's Idempotency-Key and body hash: its retry answers this sequence instead of a second draft.
    create_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    create_fingerprint: Mapped[str | None] = mapped_column(String(64))


class SequenceVersion(IdMixin, Base):
    __tablename__ = "sequence_version"
    __table_args__ = (UniqueConstraint("sequence_id", "version"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    sequence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sequence.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

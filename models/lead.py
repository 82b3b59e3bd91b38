"""A lead: a person a tenant wants to reach, identified by an E.164 phone unique within the tenant.

`create_idempotency_key` and `create_fingerprint` remember the POST /leads that created it, so a retry of that
request is told apart from another request for the same phone (api/services/leads.py).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Lead(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "lead"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone"),
        UniqueConstraint("tenant_id", "create_idempotency_key"),
        Index("ix_lead_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_lead_workflow_not_started", "created_at", postgresql_where=text("workflow_started_at IS NULL")),
        # Trigram indexes serve the list's case-insensitive substring search (ILIKE '%q%') on these columns; without
        # a pending list (migration 0029) so that a search right after a bulk import still uses them.
        *(
            Index(
                f"ix_lead_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                postgresql_with={"fastupdate": "off"},
            )
            for column in ("name", "email", "phone")
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(40), default="api")
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    status_key: Mapped[str] = mapped_column(String(63))
    stage: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The creating request's Idempotency-Key header, and a hash of its body (NULL for imported or WhatsApp leads).
    create_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    create_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # When a start of its workflow was first confirmed; NULL: never (the sweeper starts it after a grace period).
    workflow_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

"""Which Evolution API instance (shard) serves a tenant. Written only by channels/whatsapp/shard_router.py."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ShardAssignment(Base):
    __tablename__ = "shard_assignment"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True)
    shard: Mapped[str] = mapped_column(String(63), index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    moved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

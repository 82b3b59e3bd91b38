"""A tenant's AI token budget crossed in a month: `soft` (owners are told) or `hard` (the agent pauses itself until
the month ends or the budget is raised). One row per tenant, month and level: each is raised once."""

import uuid

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class AiBudgetAlert(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "ai_budget_alert"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "level"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM (UTC)
    level: Mapped[str] = mapped_column(String(10))  # soft | hard
    tokens_used: Mapped[int] = mapped_column(Integer)
    budget: Mapped[int] = mapped_column(Integer)

"""A tenant: one customer company; every CRM row belongs to exactly one."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Tenant(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "tenant"

    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_region: Mapped[str] = mapped_column(String(2), default="US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    speed_to_lead_minutes: Mapped[int] = mapped_column(default=15)

"""The daily cap's counter: how many sequence sends of one channel a tenant made on one of its local days.

One row per (tenant, channel, tenant-local day). A capped send takes a slot with one conditional upsert
(`sent < cap`), so the check costs the same on the day's first send as on its ten-thousandth and concurrent sends
serialise only on this row, for the length of one statement and its commit. An uncapped send counts too (the cap
is on all of the tenant's sequence sends of the day). Written by repositories/enrollments.py.
"""

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class DailySendCount(Base):
    __tablename__ = "daily_send_count"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(default=0)

"""The monthly token budget's counter: how many tokens (in + out) a tenant's model calls used in one UTC month.

One row per (tenant, month `YYYY-MM`), raised by a trigger on every `ai_usage` row inserted (migration 0034), so the
budget check reads one row however many calls the month has had, and a usage row written by any code counts. A call
recorded again (same `call_key`) inserts nothing and counts nothing. Tokens stay counted when the lead whose turn
spent them is deleted (they were spent); the tenant's rows go with the tenant.
"""

import uuid

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AiTokenMonth(Base):
    __tablename__ = "ai_token_month"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)

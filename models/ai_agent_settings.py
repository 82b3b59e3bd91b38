"""A tenant's AI agent settings, one row per version: every change is a new version, and a reply records the one it
used. The current settings are the tenant's highest version. The API key is sealed (core/secret_box.py) and
write-only, like the WhatsApp credentials; only the agent factory (agent/factory.py) opens it.
"""

import uuid
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class AiAgentSettings(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "ai_agent_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))  # off | draft | auto
    model: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    api_key: Mapped[str | None] = mapped_column(Text)  # sealed
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[str] = mapped_column(Text, default="")
    temperature: Mapped[float] = mapped_column(Float)
    max_output_tokens: Mapped[int] = mapped_column(Integer)
    tools: Mapped[list[str]] = mapped_column(JSON)
    answer_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: any time
    debounce_seconds: Mapped[float] = mapped_column(Float)
    draft_timeout_minutes: Mapped[float] = mapped_column(Float)
    monthly_token_budget_soft: Mapped[int | None] = mapped_column(Integer)
    monthly_token_budget_hard: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(80))

"""One call attempt: outbound (an agent's click-to-call, a sequence step, an AI callback, a retry) or inbound.

The row is the read model of its `CallWorkflow` (id in `workflow_id`) plus what Twilio's callbacks told us, applied
forward-only (`status` only moves to a later one, whatever order callbacks arrive in). `callback_token` is the
attempt's secret in every callback URL we hand Twilio: the first callback proves which call SID this attempt
placed (`provider_sid`), even when the worker died before storing Twilio's answer. `dial_started_at` says a
placement was sent; a re-run that finds it without a SID waits for that callback instead of dialling again.
`transcript` holds the voice turns (`[{speaker, text, at}]`). The disposition is never blank once the call ended.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class Call(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("tenant_id", "lead_id", "attempt_key"),
        Index("ix_call_lead_created", "lead_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    # `<attempt>` for outbound attempts (the workflow id's last part), `in:<CallSid>` for inbound calls.
    attempt_key: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    workflow_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(10))  # outbound | inbound
    origin: Mapped[str] = mapped_column(String(20))  # agent | sequence | ai_callback | retry | inbound
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    agent_phone: Mapped[str | None] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str] = mapped_column(String(20))
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    answered_by: Mapped[str | None] = mapped_column(String(30))
    disposition: Mapped[str | None] = mapped_column(String(30))
    disposition_by: Mapped[str | None] = mapped_column(String(80))
    disposition_note: Mapped[str | None] = mapped_column(String(2000))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_duration_seconds: Mapped[int | None] = mapped_column(Integer)
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    suggested_disposition: Mapped[str | None] = mapped_column(String(30))
    summary_by: Mapped[str | None] = mapped_column(String(80))
    enrollment_workflow_id: Mapped[str | None] = mapped_column(String(200))
    dial_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

"""A tenant's telephony account on Twilio Programmable Voice, and how its calls behave.

The auth token is write-only through the API and stored sealed (`enc:v1:...`, core/secret_box.py): opened only to
call Twilio's REST API and to verify its callbacks. The rest is call policy: caller ids (the numbers calls come
from), the concurrent call limit and calls per second, recording with its consent prompt, what a voicemail gets,
who answers a person (an agent's phone, the AI voice agent, a scripted message), the scripted voice prompts the AI
turns use until the AI agent answers them, the retry policy of unanswered calls and the routing of inbound calls.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class TelephonyAccount(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "telephony_account"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))  # twilio | sandbox
    account_sid: Mapped[str] = mapped_column(String(64))
    auth_token: Mapped[str | None] = mapped_column(Text)
    caller_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    concurrent_call_limit: Mapped[int] = mapped_column(Integer, default=5)
    calls_per_second: Mapped[float] = mapped_column(Float, default=1.0)
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_consent_prompt: Mapped[str] = mapped_column(Text, default="")
    voicemail_policy: Mapped[str] = mapped_column(String(20), default="hang_up")  # drop_message | hang_up
    voicemail_message: Mapped[str] = mapped_column(Text, default="")
    human_answer_mode: Mapped[str] = mapped_column(String(20), default="message")  # agent | ai | message
    answer_message: Mapped[str] = mapped_column(Text, default="")
    agent_number: Mapped[str | None] = mapped_column(String(20))
    voice_script: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    retry_max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_spacing_minutes: Mapped[int] = mapped_column(Integer, default=60)
    inbound_routing: Mapped[str] = mapped_column(String(20), default="voicemail")  # agent | ai | voicemail
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

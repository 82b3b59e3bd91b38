"""A tenant's WhatsApp account: which provider sends for it and the credentials it uses.

Secrets (access token, app secret, verify token) are write-only through the API and stored sealed (`enc:v1:...`,
core/secret_box.py): opened only by the webhook verification and the send activity, never returned.
`phone_number_id` is globally unique because Meta's webhooks name the receiving number only by it: it is how an
inbound delivery finds its tenant (and its app secret).
"""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class WhatsAppAccount(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "whatsapp_account"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), unique=True)
    provider: Mapped[str] = mapped_column(String(20))  # cloud | evolution | sandbox
    phone_number_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    display_number: Mapped[str | None] = mapped_column(String(20))
    access_token: Mapped[str | None] = mapped_column(Text)
    app_secret: Mapped[str | None] = mapped_column(Text)
    verify_token: Mapped[str | None] = mapped_column(Text, index=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

"""HTTP shapes of conversations and messages: ConversationPublic / ConversationPage, MessagePublic / MessagePage,
MessageSend (an agent's manual WhatsApp message) and WhatsAppOptions (what a first message may be)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.base import InputBody, RowWithId
from domain.ai_agent import ConversationHandler


class ConversationLead(BaseModel):
    id: uuid.UUID
    name: str
    phone: str
    status_key: str
    owner_id: uuid.UUID | None


class ConversationPublic(BaseModel):
    id: uuid.UUID
    channel: str
    lead: ConversationLead
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    last_message_preview: str
    unread_count: int
    opted_out_at: datetime | None = Field(description="when the lead opted out of WhatsApp; nothing is sent since")
    free_text: Literal["open", "closed", "no_window"] = Field(
        description="whether free text can be sent now: `open` inside the customer-service window (until "
        "`window_closes_at`), `closed` outside it or before the lead ever wrote (an approved template only), "
        "`no_window` when the tenant's provider has no such rule (Evolution)"
    )
    window_closes_at: datetime | None = Field(
        description="when the customer-service window closes (the lead's last message + the window); null when the "
        "lead never wrote or the provider has no window"
    )
    handler: ConversationHandler = Field(
        description="who answers the lead: `ai` or `unassigned` (the tenant's AI agent answers when it is on) or "
        "`human` (a person took over: the AI stays silent); `PUT /api/v1/ai/leads/{id}/handler` changes it"
    )


class WhatsAppOptions(BaseModel):
    """What the tenant's WhatsApp account lets a person send to a lead who has no conversation yet."""

    first_message: Literal["template", "text"] = Field(
        description="`template`: an approved template only (Meta's Cloud API, and the sandbox speaking it, allow free "
        "text only inside the 24-hour window the lead's own message opens); `text`: free text (Evolution has no "
        "window and no templates)"
    )


class ConversationPage(BaseModel):
    items: list[ConversationPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")
    unread_total: int = Field(description="unread messages over all the tenant's conversations, whatever the filters")


class MessagePublic(RowWithId):
    conversation_id: uuid.UUID
    lead_id: uuid.UUID
    direction: str
    kind: str
    body: str
    template: str | None
    provider: str
    provider_message_id: str | None
    status: str
    error_code: str | None
    error_message: str | None
    sent_by: str | None
    occurred_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessagePublic] = Field(description="newest first")
    next_cursor: str | None


class MessageSend(InputBody):
    """A manual message: free text (inside the 24-hour window) or an approved template."""

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    template: str | None = Field(default=None, min_length=1, max_length=200)
    template_language: str | None = Field(default=None, max_length=20)
    template_parameters: list[str] = Field(default_factory=list, max_length=20)
    request_id: str | None = Field(
        default=None, max_length=100, description="idempotency: the same request_id never sends twice"
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> "MessageSend":
        if not self.text and not self.template:
            raise ValueError("give a text or a template")
        if self.text and self.template:
            raise ValueError("give a text or a template, not both: a template is sent as approved, without the text")
        return self

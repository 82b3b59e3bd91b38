"""Conversation and message reads for the agent inbox, scoped to the caller's tenant."""

import base64
import binascii
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.conversations import (
    ConversationLead,
    ConversationPage,
    ConversationPublic,
    MessagePage,
    MessagePublic,
)
from core.errors import NotFound, Unprocessable
from repositories.conversations import ConversationRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository

PAGE_MAX = 200


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable("cursor: not a cursor this API returned", details=[{"field": "cursor"}]) from None


async def list_conversations(
    *, session: AsyncSession, tenant_id: uuid.UUID, limit: int, cursor: str | None
) -> ConversationPage:
    """Conversations with messages, latest message first, with unread counts."""
    rows = await ConversationRepository(session).list_latest(
        tenant_id=tenant_id, limit=min(limit, PAGE_MAX) + 1, after=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    items = [
        ConversationPublic(
            id=conversation.id,
            channel=conversation.channel,
            lead=ConversationLead(id=lead.id, name=lead.name, phone=lead.phone, status_key=lead.status_key),
            last_message_at=conversation.last_message_at,
            last_inbound_at=conversation.last_inbound_at,
            last_message_preview=conversation.last_message_preview,
            unread_count=conversation.unread_count,
        )
        for conversation, lead in page
    ]
    last = page[-1][0] if page else None
    next_cursor = (
        encode_cursor(last.last_message_at, last.id) if more and last and last.last_message_at is not None else None
    )
    return ConversationPage(items=items, next_cursor=next_cursor)


async def list_lead_messages(
    *, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int, cursor: str | None
) -> MessagePage:
    """The lead's messages, newest first; 404 when the lead is not in this tenant."""
    if await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id) is None:
        raise NotFound(f"lead {lead_id} not found", details={"lead_id": str(lead_id)})
    rows = await MessageRepository(session).list_for_lead(
        tenant_id=tenant_id, lead_id=lead_id, limit=min(limit, PAGE_MAX) + 1, before=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].occurred_at, page[-1].id) if more and page else None
    return MessagePage(items=[MessagePublic.model_validate(m) for m in page], next_cursor=next_cursor)


async def mark_read(*, session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    if not await ConversationRepository(session).mark_read(tenant_id=tenant_id, conversation_id=conversation_id):
        raise NotFound(f"conversation {conversation_id} not found")

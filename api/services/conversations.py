"""Conversation and message reads for the agent inbox, scoped to the caller's tenant."""

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from api.idempotency import IdempotencyKeyReused
from api.schemas.base import from_row
from api.schemas.conversations import (
    ConversationLead,
    ConversationPage,
    ConversationPublic,
    MessagePage,
    MessagePublic,
    MessageSend,
    WhatsAppOptions,
)
from api.services import found
from api.services.leads import read_search
from api.transaction import after_commit, end_reads
from core.config import Settings
from core.errors import NotFound, ServiceUnavailable, Unprocessable
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from domain.ai_agent import ConversationHandler
from domain.whatsapp_messages import ManualWhatsAppMessage, manual_send_step, send_idempotency_key
from models import Conversation, Lead, Tenant
from repositories.conversations import (
    ConversationHandlerFilter,
    ConversationOwner,
    ConversationRepository,
    InboxConversation,
    InboxLead,
)
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.outbox import OutboxRepository
from repositories.tenants import TenantRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from workflow_clients.lead import LeadWorkflowClient
from workflows.ids import lead_workflow_id

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


def _free_text(
    conversation: Conversation | InboxConversation, *, has_window: bool, window: timedelta, now: datetime
) -> tuple[Literal["open", "closed", "no_window"], datetime | None]:
    if not has_window:
        return "no_window", None
    closes_at = conversation.last_inbound_at + window if conversation.last_inbound_at is not None else None
    return ("open" if closes_at is not None and now < closes_at else "closed"), closes_at


async def _has_window(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Evolution (Baileys) has no customer-service window; Meta's Cloud API (and the sandbox speaking it) has."""
    account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    return account is None or account.provider != "evolution"


async def whatsapp_options(session: AsyncSession, tenant_id: uuid.UUID) -> WhatsAppOptions | None:
    """What a first message to a lead may be; None when the tenant has no WhatsApp account (nothing can be sent)."""
    account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    if account is None:
        return None
    return WhatsAppOptions(first_message="text" if account.provider == "evolution" else "template")


def _public(
    conversation: Conversation | InboxConversation,
    lead: Lead | InboxLead,
    *,
    has_window: bool,
    settings: Settings,
    now: datetime,
) -> ConversationPublic:
    window = timedelta(hours=settings.whatsapp_service_window_hours)
    free_text, closes_at = _free_text(conversation, has_window=has_window, window=window, now=now)
    return from_row(
        ConversationPublic,
        conversation,
        lead=from_row(ConversationLead, lead),
        free_text=free_text,
        window_closes_at=closes_at,
        handler=ConversationHandler(conversation.handler),
    )


async def list_conversations(
    *,
    session: AsyncSession,
    settings: Settings,
    tenant_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    owner: ConversationOwner = None,
    unread_only: bool = False,
    q: str | None = None,
    handler: ConversationHandlerFilter = None,
) -> ConversationPage:
    """Conversations with messages, latest message first, with unread counts; `q` finds leads as the leads list's
    search does (a phone as the app shows it, "(415) 555-0123", too)."""
    search = None
    if q is not None and q.strip():
        tenant = found(await TenantRepository(session).get(tenant_id), "tenant", tenant_id)
        search = read_search(q, region=tenant.default_region)
    repository = ConversationRepository(session)
    inbox = await repository.list_latest(
        tenant_id=tenant_id,
        limit=min(limit, PAGE_MAX) + 1,
        after=decode_cursor(cursor),
        owner=owner,
        unread_only=unread_only,
        search=search,
        handler=handler,
    )
    page, more = inbox.rows[:limit], len(inbox.rows) > limit
    has_window = await _has_window(session, tenant_id)
    now = datetime.now(tz=UTC)
    items = [
        _public(conversation, lead, has_window=has_window, settings=settings, now=now) for conversation, lead in page
    ]
    last = page[-1][0] if page else None
    next_cursor = (
        encode_cursor(last.last_message_at, last.id) if more and last and last.last_message_at is not None else None
    )
    return ConversationPage(items=items, next_cursor=next_cursor, unread_total=inbox.unread_total)


async def get_lead_conversation(
    *, session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, lead_id: uuid.UUID
) -> ConversationPublic:
    """The lead's WhatsApp conversation; 404 when the lead is not in this tenant or has none yet."""
    lead = found(await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id)
    conversation = await ConversationRepository(session).get_for_lead(
        tenant_id=tenant_id, lead_id=lead_id, channel="whatsapp"
    )
    if conversation is None:
        raise NotFound(f"lead {lead_id} has no conversation yet", details={"lead_id": str(lead_id)})
    has_window = await _has_window(session, tenant_id)
    return _public(conversation, lead, has_window=has_window, settings=settings, now=datetime.now(tz=UTC))


async def list_lead_conversations(
    *, session: AsyncSession, settings: Settings, tenant_id: uuid.UUID, lead_id: uuid.UUID
) -> list[ConversationPublic]:
    """The lead's conversations (one per channel; WhatsApp today), empty before the first; 404 when the lead is not
    in this tenant."""
    lead = found(await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id)
    conversations = await ConversationRepository(session).list_for_lead(tenant_id=tenant_id, lead_id=lead_id)
    if not conversations:
        return []
    has_window = await _has_window(session, tenant_id)
    now = datetime.now(tz=UTC)
    return [_public(c, lead, has_window=has_window, settings=settings, now=now) for c in conversations]


async def list_lead_messages(
    *, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int, cursor: str | None
) -> MessagePage:
    """The lead's messages, newest first; 404 when the lead is not in this tenant."""
    found(await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id)
    rows = await MessageRepository(session).list_for_lead(
        tenant_id=tenant_id, lead_id=lead_id, limit=min(limit, PAGE_MAX) + 1, before=decode_cursor(cursor)
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1].occurred_at, page[-1].id) if more and page else None
    return MessagePage(items=[MessagePublic.model_validate(m) for m in page], next_cursor=next_cursor)


async def mark_read(
    *, session: AsyncSession, live: LiveEvents, tenant_id: uuid.UUID, conversation_id: uuid.UUID
) -> None:
    """Unread back to 0, told to every open inbox once committed."""
    lead_id = await ConversationRepository(session).mark_read(tenant_id=tenant_id, conversation_id=conversation_id)
    if lead_id is None:
        raise NotFound(f"conversation {conversation_id} not found")
    event = LiveEvent(tenant_id=tenant_id, type=LiveEventType.CONVERSATION_CHANGED, data={"lead_id": str(lead_id)})
    after_commit(session, partial(live.publish, event), failure=None)


def _request_id(data: MessageSend, idempotency_key: str | None) -> tuple[str | None, str]:
    """The client's id of this send (body `request_id` or the `Idempotency-Key` header) and the field it came in."""
    if idempotency_key is not None and data.request_id is not None and idempotency_key != data.request_id:
        raise Unprocessable(
            "request_id and the Idempotency-Key header name different requests; send one of them, or the same value",
            details=[{"field": "request_id", "reason": "differs from the Idempotency-Key header"}],
        )
    if data.request_id is not None:
        return data.request_id, "request_id"
    return idempotency_key, "Idempotency-Key"


async def _refuse_reused_request_id(
    session: AsyncSession, *, tenant: Tenant, lead: Lead, data: MessageSend, request_id: str, field: str
) -> None:
    """422 when this id already sent another message: answering that one would tell the agent theirs went out."""
    key = send_idempotency_key(lead_workflow_id(tenant.slug, str(lead.id)), manual_send_step(request_id))
    earlier = await OutboxRepository(session).get(idempotency_key=key)
    if earlier is None:
        return
    sent = {name: earlier.payload.get(name) for name in _MESSAGE_FIELDS}
    wanted = {name: getattr(data, name) for name in _MESSAGE_FIELDS}
    if sent != wanted:
        message_id = str(earlier.message_id) if earlier.message_id is not None else None
        raise IdempotencyKeyReused(request_id, resource="message", resource_id=message_id, field=field)


_MESSAGE_FIELDS = ("text", "template", "template_language", "template_parameters")


async def send_manual_message(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    tenant: Tenant,
    lead_id: uuid.UUID,
    data: MessageSend,
    actor: str,
    idempotency_key: str | None = None,
) -> MessagePublic:
    """Send through the lead's workflow (update-with-start), so the message is recorded and sent once per
    `request_id` (or `Idempotency-Key` header); answer the stored message. A refusal answers 409 or 422 with its
    reason (opted out, outside the 24-hour window, undeliverable)."""
    lead = found(await LeadRepository(session).get(tenant_id=tenant.id, lead_id=lead_id), "lead", lead_id)
    request_id, field = _request_id(data, idempotency_key)
    if request_id is not None:
        await _refuse_reused_request_id(
            session, tenant=tenant, lead=lead, data=data, request_id=request_id, field=field
        )
    request = ManualWhatsAppMessage(
        request_id=request_id or uuid.uuid4().hex,
        text=data.text,
        template=data.template,
        template_language=data.template_language,
        template_parameters=data.template_parameters,
        actor=actor,
    )
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    await end_reads(session)
    result = await workflows.send_message(tenant=tenant, lead=lead, request=request, active_enrollments=enrollments)
    # A person wrote: the lead's workflow made the conversation theirs (the AI stays silent); the inbox shows it.
    await ConversationRepository(session).set_handler(
        tenant_id=tenant.id, lead_id=lead_id, handler=ConversationHandler.HUMAN
    )
    stored = await MessageRepository(session).get(message_id=uuid.UUID(result.message_id))
    if stored is None:
        raise ServiceUnavailable("the message was sent but is not readable yet; list the lead's messages")
    return MessagePublic.model_validate(stored)

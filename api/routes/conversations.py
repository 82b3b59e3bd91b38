"""The agent inbox: `GET /api/v1/conversations` (latest first, unread counts; filters), `GET /api/v1/leads/{id}/
conversation` (404 while it has none), `GET /api/v1/leads/{id}/conversations` (the same as a list: empty while it
has none, for a page that only shows it when there is one), `GET /api/v1/leads/{id}/messages`,
`POST /api/v1/leads/{id}/messages` (an agent's WhatsApp message, sent through the lead's workflow),
`POST /api/v1/conversations/{id}/read`. Tenant-scoped: another tenant's lead or conversation is a 404."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator

from api.deps import LiveEventsDep, SessionDep, SettingsDep
from api.idempotency import IdempotencyKey
from api.schemas.conversations import ConversationPage, ConversationPublic, MessagePage, MessagePublic, MessageSend
from api.schemas.nul import reject_nul
from api.scopes import LeadScope
from api.security import LeadReader, LeadWriter
from api.services import conversations as service

router = APIRouter(tags=["conversations"])


@router.get("/conversations")
async def list_conversations(
    principal: LeadReader,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    owner: Annotated[
        Literal["all", "mine", "unassigned"],
        Query(description="`mine`: leads the caller owns; `unassigned`: leads without an owner"),
    ] = "all",
    unread: Annotated[bool, Query(description="only conversations with unread messages")] = False,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="search the lead's name, phone (in any format) and e-mail, as `GET /leads?q=` does",
        ),
        AfterValidator(reject_nul),
    ] = None,
    handler: Annotated[
        Literal["ai", "human", "unassigned"] | None,
        Query(description="only conversations the AI agent answers (`ai`), a person took over (`human`), or neither"),
    ] = None,
) -> ConversationPage:
    """Conversations latest message first; `unread_total` counts the tenant's unread messages whatever the filters."""
    owner_filter: service.ConversationOwner = None
    if owner == "unassigned":
        owner_filter = "unassigned"
    elif owner == "mine":
        # An API key is nobody's: it owns no lead.
        owner_filter = principal.user_id or uuid.UUID(int=0)
    return await service.list_conversations(
        session=session,
        settings=settings,
        tenant_id=principal.tenant(),
        limit=limit,
        cursor=cursor,
        owner=owner_filter,
        unread_only=unread,
        q=q or None,
        handler=handler,
    )


@router.get("/leads/{lead_id}/conversation")
async def get_lead_conversation(
    lead_id: uuid.UUID, principal: LeadReader, session: SessionDep, settings: SettingsDep
) -> ConversationPublic:
    """The lead's WhatsApp conversation: unread count, opt-out, whether free text can be sent now."""
    return await service.get_lead_conversation(
        session=session, settings=settings, tenant_id=principal.tenant(), lead_id=lead_id
    )


@router.get("/leads/{lead_id}/conversations")
async def list_lead_conversations(
    lead_id: uuid.UUID, principal: LeadReader, session: SessionDep, settings: SettingsDep
) -> list[ConversationPublic]:
    """The lead's conversations, one per channel (WhatsApp today): an empty list before the lead's first message,
    where `GET /leads/{id}/conversation` answers 404."""
    return await service.list_lead_conversations(
        session=session, settings=settings, tenant_id=principal.tenant(), lead_id=lead_id
    )


@router.post("/conversations/{conversation_id}/read", status_code=204)
async def mark_conversation_read(
    conversation_id: uuid.UUID, principal: LeadWriter, session: SessionDep, live: LiveEventsDep
) -> Response:
    """The agent has seen the conversation: its unread count goes back to 0 (in every open inbox)."""
    await service.mark_read(session=session, live=live, tenant_id=principal.tenant(), conversation_id=conversation_id)
    return Response(status_code=204)


@router.get("/leads/{lead_id}/messages")
async def list_lead_messages(
    lead_id: uuid.UUID,
    principal: LeadReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePage:
    return await service.list_lead_messages(
        session=session, tenant_id=principal.tenant(), lead_id=lead_id, limit=limit, cursor=cursor
    )


@router.post(
    "/leads/{lead_id}/messages",
    status_code=201,
    responses={
        409: {"description": "opted out, outside the 24-hour window, or no WhatsApp account"},
        422: {"description": "invalid message, or its request_id / Idempotency-Key already sent another message"},
    },
)
async def send_lead_message(
    lead_id: uuid.UUID,
    data: MessageSend,
    principal: LeadWriter,
    scope: LeadScope,
    idempotency_key: IdempotencyKey = None,
) -> MessagePublic:
    """Send a WhatsApp message to the lead now. Re-sending the same `request_id` (or `Idempotency-Key` header)
    answers the first send; the same id with another message is 422."""
    return await service.send_manual_message(
        **scope.kwargs, lead_id=lead_id, data=data, actor=principal.actor, idempotency_key=idempotency_key
    )

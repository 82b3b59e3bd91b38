"""The agent inbox: `GET /api/v1/conversations` (latest first, unread counts), `GET /api/v1/leads/{id}/messages`,
`POST /api/v1/leads/{id}/messages` (an agent's WhatsApp message, sent through the lead's workflow),
`POST /api/v1/conversations/{id}/read`. Tenant-scoped: another tenant's lead or conversation is a 404."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import LeadWorkflowsDep, SessionDep
from api.idempotency import IdempotencyKey
from api.schemas.conversations import ConversationPage, MessagePage, MessagePublic, MessageSend
from api.security import CurrentTenant, Principal, require
from api.services import conversations as service
from domain.permissions import Action

router = APIRouter(tags=["conversations"])

Reader = Annotated[Principal, Depends(require(Action.LEAD_READ))]
Writer = Annotated[Principal, Depends(require(Action.LEAD_WRITE))]


@router.get("/conversations")
async def list_conversations(
    principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=service.PAGE_MAX)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ConversationPage:
    return await service.list_conversations(session=session, tenant_id=principal.tenant(), limit=limit, cursor=cursor)


@router.post("/conversations/{conversation_id}/read", status_code=204)
async def mark_conversation_read(conversation_id: uuid.UUID, principal: Writer, session: SessionDep) -> Response:
    """The agent has seen the conversation: its unread count goes back to 0."""
    await service.mark_read(session=session, tenant_id=principal.tenant(), conversation_id=conversation_id)
    return Response(status_code=204)


@router.get("/leads/{lead_id}/messages")
async def list_lead_messages(
    lead_id: uuid.UUID,
    principal: Reader,
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
    principal: Writer,
    tenant: CurrentTenant,
    session: SessionDep,
    workflows: LeadWorkflowsDep,
    idempotency_key: IdempotencyKey = None,
) -> MessagePublic:
    """Send a WhatsApp message to the lead now. Re-sending the same `request_id` (or `Idempotency-Key` header)
    answers the first send; the same id with another message is 422."""
    return await service.send_manual_message(
        session=session,
        workflows=workflows,
        tenant=tenant,
        lead_id=lead_id,
        data=data,
        actor=principal.actor,
        idempotency_key=idempotency_key,
    )

"""The AI agent under /api/v1/ai: settings (`GET/PUT /agent`, owner/admin, key write-only), usage (`GET /usage`),
drafts waiting for a person (`GET /drafts`, `POST /drafts/{id}/approve|reject`) and who handles a lead's
conversation (`PUT /leads/{id}/handler`)."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import LeadWorkflowsDep, LiveEventsDep, SequenceWorkflowsDep, SessionDep, SettingsDep
from api.schemas.ai import (
    AgentSettingsPublic,
    AgentSettingsUpdate,
    DraftApproval,
    DraftList,
    DraftPublic,
    DraftRejection,
    HandlerChange,
    HandlerPublic,
    UsagePublic,
)
from api.scopes import LeadScope
from api.security import AgentManager, CurrentTenant, DraftWorker, UsageReader
from api.services import ai_agent as service
from api.services import ai_drafts as drafts
from domain.ai_agent import ConversationHandler

router = APIRouter(prefix="/ai", tags=["ai agent"])


@router.get("/agent")
async def get_agent(principal: AgentManager, session: SessionDep, settings: SettingsDep) -> AgentSettingsPublic:
    """The current settings version (version 0 and mode `off` until the first PUT). The API key is never returned."""
    return await service.get_settings(session=session, tenant_id=principal.tenant(), settings=settings)


@router.put("/agent")
async def put_agent(
    data: AgentSettingsUpdate, principal: AgentManager, session: SessionDep, settings: SettingsDep
) -> AgentSettingsPublic:
    """Store the settings as a new version; replies from now on use it and record its number."""
    return await service.put_settings(
        session=session, tenant_id=principal.tenant(), data=data, actor=principal.actor, settings=settings
    )


@router.get("/usage")
async def get_usage(
    principal: UsageReader,
    session: SessionDep,
    settings: SettingsDep,
    since: Annotated[date | None, Query(description="first day (UTC), default the 1st of this month")] = None,
    until: Annotated[date | None, Query(description="last day (UTC), default today")] = None,
) -> UsagePublic:
    """Model calls summed by day and model (tokens in / cached / out, estimated cost, latency) and the budget."""
    return await service.get_usage(
        session=session, tenant_id=principal.tenant(), since=since, until=until, settings=settings
    )


@router.get("/drafts")
async def list_drafts(
    principal: DraftWorker,
    session: SessionDep,
    status: Literal["pending", "approved", "rejected", "withdrawn", "expired", "failed"] | None = "pending",
    lead_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DraftList:
    """AI replies waiting for a person (by default), newest first."""
    return await drafts.list_drafts(
        session=session, tenant_id=principal.tenant(), status=status, lead_id=lead_id, limit=limit
    )


DECIDE_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "no such draft in this tenant"},
    409: {"description": "the draft is no longer waiting, or the reply could not be sent (reason in details)"},
}


DraftDecider = Callable[..., Awaitable[DraftPublic]]


async def _draft_decider(
    principal: DraftWorker,
    tenant: CurrentTenant,
    session: SessionDep,
    workflows: LeadWorkflowsDep,
    enrollments: SequenceWorkflowsDep,
) -> DraftDecider:
    """What approve and reject share: the person deciding, their tenant and the workflow clients."""
    return partial(
        drafts.decide_draft,
        session=session,
        workflows=workflows,
        enrollments=enrollments,
        tenant=tenant,
        actor=principal.actor,
    )


Decide = Annotated[DraftDecider, Depends(_draft_decider)]


@router.post("/drafts/{draft_id}/approve", responses=DECIDE_RESPONSES)
async def approve_draft(draft_id: uuid.UUID, decide: Decide, data: DraftApproval | None = None) -> DraftPublic:
    """Send the draft (or the edited `text` instead) through its workflow (the lead's, or the enrollment's for an
    AI sequence message) and the WhatsApp outbox."""
    return await decide(draft_id=draft_id, approve=True, text=data.text if data else None, reason=None)


@router.post("/drafts/{draft_id}/reject", responses=DECIDE_RESPONSES)
async def reject_draft(draft_id: uuid.UUID, decide: Decide, data: DraftRejection | None = None) -> DraftPublic:
    """Drop the draft: nothing is sent."""
    return await decide(draft_id=draft_id, approve=False, text=None, reason=data.reason if data else None)


@router.put(
    "/leads/{lead_id}/handler",
    responses={404: {"description": "no such lead"}, 409: {"description": "the lead's workflow is not running"}},
)
async def set_handler(
    lead_id: uuid.UUID,
    data: HandlerChange,
    principal: DraftWorker,
    scope: LeadScope,
    live: LiveEventsDep,
) -> HandlerPublic:
    """`ai`: the agent answers this lead again; `human`: a person takes the conversation over."""
    return await drafts.set_handler(
        **scope.kwargs, live=live, lead_id=lead_id, handler=ConversationHandler(data.handler), actor=principal.actor
    )

"""Calls for agents: click-to-call, call history, one call with its transcript, dispositions, live calls.

Everything is scoped to the caller's tenant: another tenant's lead or call is a 404 like a missing one. A call's
workflow starts once its row has committed (api/transaction.py `after_commit`).
"""

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.calls import (
    CallDetail,
    CallOptions,
    CallPublic,
    ClickToCall,
    DispositionUpdate,
    LiveCall,
    TranscriptTurnPublic,
)
from api.security import Principal
from api.services import found
from api.services.leads import get_lead, parse_phone
from api.transaction import after_commit, end_reads
from channels.voice.callback_tasks import sync_callback_task
from channels.voice.live import LiveCalls
from core.config import Settings
from core.errors import Conflict, NotFound, Unprocessable
from core.feature_flags import FeatureFlagReader
from core.redis import Keys
from domain.calls import CallDisposition
from domain.feature_flags import FeatureFlag
from models import Call, Lead, Tenant
from repositories.calls import CallRepository
from repositories.telephony_accounts import TelephonyAccountRepository
from repositories.tenants import TenantRepository
from repositories.timeline import TimelineRepository
from workflow_clients.call import CallWorkflowClient
from workflow_clients.errors import is_not_found
from workflow_clients.inputs import lead_identity
from workflows.call_types import CALL_DISPOSITION_EVENT, CallWorkflowInput, DispositionRequest
from workflows.ids import call_workflow_id


def public(call: Call) -> CallPublic:
    return CallPublic.model_validate(call, from_attributes=True)


def detail(call: Call) -> CallDetail:
    return CallDetail(
        **public(call).model_dump(),
        transcript=[TranscriptTurnPublic.model_validate(turn) for turn in call.transcript or []],
        summary=call.summary,
        suggested_disposition=call.suggested_disposition,
        summary_by=call.summary_by,
    )


async def place_click_to_call(
    *,
    session: AsyncSession,
    workflows: CallWorkflowClient,
    principal: Principal,
    lead_id: uuid.UUID,
    data: ClickToCall,
) -> CallDetail:
    """Write the attempt's row; its workflow starts once the row has committed."""
    tenant_id = principal.tenant()
    lead = await get_lead(session=session, tenant_id=tenant_id, lead_id=lead_id)
    tenant = await TenantRepository(session).get(tenant_id)
    assert tenant is not None
    account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    if account is None:
        raise Unprocessable(
            "this tenant has no telephony account: PUT /api/v1/telephony/account first",
            details=[{"field": "telephony_account", "reason": "not configured"}],
        )
    agent_phone = data.agent_phone or account.agent_number
    if data.ring_agent_first and not agent_phone:
        raise Unprocessable(
            "agent_phone is required: the account has no agent number to ring first",
            details=[{"field": "agent_phone", "reason": "required"}],
        )
    agent_phone = (
        parse_phone(agent_phone, region=tenant.default_region, field="agent_phone")
        if data.ring_agent_first and agent_phone
        else None
    )
    from_number = account.caller_ids[0]
    if data.from_number:
        from_number = parse_phone(data.from_number, region=tenant.default_region, field="from_number")
        if from_number not in account.caller_ids:
            raise Unprocessable(
                f"from_number {from_number} is not one of the account's caller ids",
                details=[{"field": "from_number", "reason": "not a caller id"}],
            )
    calls = CallRepository(session)
    attempt = await calls.latest_attempt(tenant_id=tenant_id, lead_id=lead.id) + 1
    workflow_id = call_workflow_id(tenant.slug, str(lead.id), attempt)
    try:
        call = await calls.add(
            Call(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                lead_id=lead.id,
                attempt_key=str(attempt),
                attempt=attempt,
                workflow_id=workflow_id,
                direction="outbound",
                origin="agent",
                agent_id=principal.accountable_user_id,
                agent_phone=agent_phone,
                to_number=lead.phone,
                from_number=from_number,
                callback_token=secrets.token_urlsafe(24),
                status="queued",
                transcript=[],
            )
        )
    except IntegrityError:
        raise Conflict("another call to this lead was started at the same moment; try again") from None
    start = workflow_input(tenant=tenant, lead=lead, call=call)

    async def start_workflow() -> None:
        await workflows.start(start, workflow_id=workflow_id)

    after_commit(
        session,
        start_workflow,
        failure="the call was saved but could not be started; nothing was dialled, place it again",
        details={"call_id": str(call.id)},
    )
    return detail(call)


def workflow_input(*, tenant: Tenant, lead: Lead, call: Call, **extra: Any) -> CallWorkflowInput:
    return CallWorkflowInput(
        **lead_identity(tenant, lead),
        call_id=call.id,
        attempt=call.attempt,
        direction=call.direction,  # type: ignore[arg-type]
        origin=call.origin,  # type: ignore[arg-type]
        lead_timezone=lead.timezone,
        **extra,
    )


async def call_options(*, session: AsyncSession, flags: FeatureFlagReader, tenant_id: uuid.UUID) -> CallOptions | None:
    """How a call placed now would be dialled; None unless the tenant's calls feature is on and it has a telephony
    account."""
    if not await flags.enabled(tenant_id, FeatureFlag.CALLS):
        return None
    account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    if account is None:
        return None
    return CallOptions(
        agent_number=account.agent_number,
        direct_answer=account.human_answer_mode,  # type: ignore[arg-type]
    )


async def list_lead_calls(*, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> list[CallPublic]:
    await get_lead(session=session, tenant_id=tenant_id, lead_id=lead_id)
    return [public(call) for call in await CallRepository(session).list_for_lead(tenant_id=tenant_id, lead_id=lead_id)]


async def get_call(*, session: AsyncSession, tenant_id: uuid.UUID, call_id: uuid.UUID) -> Call:
    return found(await CallRepository(session).get_for_tenant(tenant_id=tenant_id, call_id=call_id), "call", call_id)


async def set_disposition(
    *,
    session: AsyncSession,
    workflows: CallWorkflowClient,
    principal: Principal,
    call_id: uuid.UUID,
    data: DispositionUpdate,
) -> CallDetail:
    """Through the call's workflow while it runs (it tells the lead's timeline); on the row once it has ended."""
    call = await get_call(session=session, tenant_id=principal.tenant(), call_id=call_id)
    check_callback_at(data, now=datetime.now(UTC))
    request = DispositionRequest(
        disposition=data.disposition, note=data.note, callback_at=data.callback_at, actor=principal.actor
    )
    workflow_id = call.workflow_id
    await end_reads(session)
    try:
        await workflows.set_disposition(workflow_id=workflow_id, call_id=call_id, request=request)
    except (NotFound, Conflict) as exc:
        if not (is_not_found(exc) or isinstance(exc, Conflict)):
            raise
        # The workflow has closed (its disposition window passed): the row is the record now.
        await _dispose_on_row(session=session, call=call, request=request)
    await session.refresh(call)
    return detail(call)


# How far ahead a callback may be asked for; a time already past (beyond a minute of clock skew) is a typo.
CALLBACK_HORIZON = timedelta(days=366)
CALLBACK_PAST_TOLERANCE = timedelta(minutes=1)


def check_callback_at(data: DispositionUpdate, *, now: datetime) -> None:
    """422 naming `callback_at` unless it is a zoned time from now to a year ahead, asked with `callback_requested`."""
    at = data.callback_at
    if at is None:
        return
    reason = None
    if at.tzinfo is None:
        reason = "naive datetime: give a time zone (e.g. 2026-12-24T10:00:00+01:00)"
    elif data.disposition != CallDisposition.CALLBACK_REQUESTED:
        reason = "only the callback_requested disposition takes a callback time"
    elif at < now - CALLBACK_PAST_TOLERANCE:
        reason = "in the past"
    elif at > now + CALLBACK_HORIZON:
        reason = f"more than {CALLBACK_HORIZON.days} days ahead"
    if reason is not None:
        raise Unprocessable(f"callback_at: {reason}", details=[{"field": "callback_at", "reason": reason}])


async def _dispose_on_row(*, session: AsyncSession, call: Call, request: DispositionRequest) -> None:
    # Locked first: a concurrent correction waits, and the callback task follows whichever committed last.
    await session.refresh(call, with_for_update=True)
    call.disposition = request.disposition.value
    call.disposition_by = request.actor
    call.disposition_note = request.note
    call.callback_at = request.callback_at
    await TimelineRepository(session).record(
        tenant_id=call.tenant_id,
        lead_id=call.lead_id,
        kind=CALL_DISPOSITION_EVENT,
        actor=request.actor,
        data={
            "call_id": str(call.id),
            "status": call.status,
            "disposition": request.disposition.value,
            "note": request.note,
            "callback_at": request.callback_at.isoformat() if request.callback_at else None,
        },
    )
    await session.flush()
    # As the running call's workflow does (call.tell_lead): the callback asked for replaces an earlier one.
    await sync_callback_task(session, call_id=call.id, actor=request.actor)


async def live_calls(*, redis: Redis, settings: Settings, tenant_id: uuid.UUID) -> list[LiveCall]:
    live = LiveCalls(redis, Keys(settings.redis_prefix))
    return [
        LiveCall(
            call_id=state["call_id"],
            lead_id=state["lead_id"],
            status=state["status"],
            direction=state.get("direction"),
            agent_id=state.get("agent_id"),
            since=datetime.fromtimestamp(float(state["since"]), tz=UTC),
        )
        for state in await live.list(tenant_id=tenant_id)
    ]

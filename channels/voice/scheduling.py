"""Queueing a call from the worker's side (a sequence's `call` step, the AI agent's `schedule_callback`).

The attempt's row is written once per attempt key (the caller's: a retried activity finds it), then its CallWorkflow
is started once (the row's workflow id, USE_EXISTING). A call that must wait (a callback at the lead's chosen time)
carries `not_before`: its workflow sleeps until then before it takes a call slot. No telephony account, no caller id
or no lead: `CallNotPossible`, and nothing is written.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from domain.sequences.definition import BusinessHours
from models import Lead
from repositories.calls import CallRepository
from repositories.telephony_accounts import TelephonyAccountRepository
from workflow_clients.call import CallWorkflowClient
from workflows.call_types import CallWorkflowInput
from workflows.ids import call_workflow_id


class CallNotPossible(Exception):
    """The tenant cannot call this lead (no telephony account or caller id, or the lead is gone)."""


@dataclass(frozen=True, slots=True)
class QueuedCall:
    call_id: uuid.UUID
    workflow_id: str
    attempt: int


async def queue_call(
    *,
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    tenant_id: uuid.UUID,
    tenant_slug: str,
    lead_id: uuid.UUID,
    attempt_key: str,
    origin: Literal["sequence", "ai_callback"],
    enrollment_workflow_id: str | None = None,
    business_hours: BusinessHours | None = None,
    not_before: datetime | None = None,
) -> QueuedCall:
    async with sessions() as session, session.begin():
        account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
        if account is None:
            raise CallNotPossible(f"tenant {tenant_id} has no telephony account")
        lead = await session.get(Lead, lead_id)
        if lead is None or lead.tenant_id != tenant_id or not account.caller_ids:
            raise CallNotPossible("the lead or a caller id is missing")
        calls = CallRepository(session)
        attempt = await calls.latest_attempt(tenant_id=tenant_id, lead_id=lead.id) + 1
        call = await calls.insert_if_missing(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "lead_id": lead.id,
                "attempt_key": attempt_key,
                "attempt": attempt,
                "workflow_id": call_workflow_id(tenant_slug, str(lead.id), attempt),
                "direction": "outbound",
                "origin": origin,
                "to_number": lead.phone,
                "from_number": account.caller_ids[0],
                "callback_token": secrets.token_urlsafe(24),
                "status": "queued",
                "transcript": [],
                "enrollment_workflow_id": enrollment_workflow_id,
            }
        )
        data = CallWorkflowInput(
            tenant_id=tenant_id,
            tenant_slug=tenant_slug,
            lead_id=lead.id,
            call_id=call.id,
            attempt=call.attempt,
            origin=origin,
            lead_timezone=lead.timezone,
            business_hours=business_hours or BusinessHours(),
            enrollment_workflow_id=enrollment_workflow_id,
            not_before=not_before,
        )
        queued = QueuedCall(call_id=call.id, workflow_id=call.workflow_id, attempt=call.attempt)
    await CallWorkflowClient(temporal).start(data, workflow_id=queued.workflow_id)
    return queued

"""A call Twilio reports over frees its slot when the dispatcher handles the callback, before (and without) the call's
workflow: the next call in line is woken at once, and a call still ringing keeps its slot."""

import secrets
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from channels.voice.callbacks import handle_inbox_event, inbox_row
from channels.voice.slots import SlotWaker, call_capacity
from core.config import Settings
from models import Call, WebhookInbox
from tests.fixtures.crm import MakeTenant
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.whatsapp import add_lead
from workflows.call_types import CallStatusEvent


async def _outbound_call(session_factory: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID) -> Call:
    """A placed outbound call whose workflow is not running (ended, or never started here)."""
    phone = unique_phone()
    lead_id = await add_lead(session_factory, tenant_id, phone=phone)
    call = Call(
        tenant_id=tenant_id,
        lead_id=lead_id,
        attempt_key="1",
        workflow_id=f"call:gone:{uuid.uuid4()}",
        direction="outbound",
        origin="agent",
        to_number=phone,
        from_number="+14155550100",
        callback_token=secrets.token_urlsafe(16),
        provider_sid="CA" + secrets.token_hex(16),
        status="in-progress",
    )
    async with session_factory() as session:
        session.add(call)
        await session.commit()
    return call


async def _callback(
    call: Call, status: str, session_factory: async_sessionmaker[AsyncSession], temporal: Client, slots: SlotWaker
) -> None:
    assert call.provider_sid is not None
    event = CallStatusEvent(call_sid=call.provider_sid, status=status, sequence_number=3, at=datetime.now(UTC))
    row = WebhookInbox(**inbox_row(call=call, account_sid="AC" + "0" * 32, event=event, raw={}))
    await handle_inbox_event(row, session_factory=session_factory, temporal=temporal, live=None, slots=slots)


async def test_the_completed_callback_frees_the_slot_and_wakes_the_next_in_line(
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    redis: Redis,
    settings: Settings,
    temporal_client: Client,
) -> None:
    tenant = await make_tenant()
    slots = SlotWaker(call_capacity(redis, settings), temporal_client)
    running = await _outbound_call(session_factory, tenant.tenant_id)
    waiter, latecomer = uuid.uuid4(), uuid.uuid4()

    async def ask(call_id: uuid.UUID, workflow_id: str) -> str:
        answer = await slots.capacity.acquire(
            tenant_id=tenant.tenant_id, call_id=call_id, limit=1, calls_per_second=100, workflow_id=workflow_id
        )
        return answer.reason

    assert await ask(running.id, running.workflow_id) == "granted"
    assert await ask(waiter, f"call:gone-waiter:{waiter}") == "full"

    await _callback(running, "ringing", session_factory, temporal_client, slots)
    assert await slots.capacity.active(tenant_id=tenant.tenant_id) == 1  # still ringing: still a call
    assert await ask(latecomer, f"call:latecomer:{latecomer}") == "line"

    await _callback(running, "completed", session_factory, temporal_client, slots)
    assert await slots.capacity.active(tenant_id=tenant.tenant_id) == 0
    assert not await slots.capacity.renew(tenant_id=tenant.tenant_id, call_id=running.id)  # not brought back
    # The waiter was woken; its workflow is gone, so it gave up its place and the latecomer is next.
    assert await ask(latecomer, f"call:latecomer:{latecomer}") == "granted"
    async with session_factory() as session:
        stored = await session.get(Call, running.id)
        assert stored is not None and stored.status == "completed"

"""A worker killed in the middle of a send: exactly one message after recovery.

The sandbox's `slow_accept` fault accepts and records the message (its status webhooks, carrying our idempotency key
as `biz_opaque_callback_data`, go out at once) but holds the HTTP answer, so the sender can die in the gap between
the provider taking the message and the outbox storing it. The status webhook reconciles the row; the re-run waits
for that instead of sending again.
"""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from domain import whatsapp_messages as kinds
from models import Message, OutboxMessage
from providers.whatsapp.signatures import SIGNATURE_HEADER
from tests.activities.test_whatsapp_send import _input, _lead, _sent_to, make_activities, sandbox_tenant, send_http
from tests.fixtures.sandbox import WebhookReceiver
from tests.fixtures.whatsapp import WhatsAppTenant, eventually

__all__ = ["make_activities", "sandbox_tenant", "send_http"]  # fixtures shared with the send tests


async def relay_webhooks(receiver: WebhookReceiver, url: str, api: httpx.AsyncClient, seen: int = 0) -> int:
    """Hand the sandbox's deliveries that reached `url` to the API's webhook route, byte for byte; returns the count."""
    received = receiver.at(url)
    for delivery in received[seen:]:
        response = await api.post(
            "/webhooks/whatsapp/cloud",
            content=delivery.raw_body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: delivery.headers[SIGNATURE_HEADER.lower()]},
        )
        assert response.status_code == 200, response.text
    return len(received)


async def _point_webhooks_at(sandbox_control: httpx.AsyncClient, tenant: WhatsAppTenant, token: str, url: str) -> None:
    registered = await sandbox_control.post(
        "/_sandbox/accounts/cloud",
        json={
            "phone_number_id": tenant.phone_number_id,
            "access_token": token,
            "app_secret": tenant.app_secret,
            "webhook_url": url,
        },
    )
    assert registered.status_code == 201, registered.text


async def _outbox(session_factory: async_sessionmaker[AsyncSession], key: str) -> OutboxMessage:
    async with session_factory() as session:
        return (await session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))).scalar_one()


async def test_a_rerun_after_a_lost_answer_waits_for_the_status_webhook_and_never_resends(
    make_activities,
    sandbox_tenant: WhatsAppTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
    client: httpx.AsyncClient,
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    url = webhook_receiver.endpoint("cloud")
    await _point_webhooks_at(sandbox_control, sandbox_tenant, f"token-{sandbox_tenant.slug.removeprefix('wa-')}", url)
    await sandbox_control.post("/_sandbox/faults", json={"kind": "slow_accept", "to": phone, "delay_seconds": 10})
    data = _input(sandbox_tenant, lead_id, text="hello exactly once")

    dying = asyncio.create_task(ActivityEnvironment().run(make_activities().send_whatsapp_message, data))
    [accepted] = await eventually(lambda: _sent_to(sandbox_control, phone))
    dying.cancel()  # the worker is gone: the provider took the message, nobody heard its answer
    with pytest.raises(asyncio.CancelledError):
        await dying
    assert (await _outbox(session_factory, data.idempotency_key)).state == "sending"

    # A re-run before any confirmation does not send: it asks to be retried shortly.
    with pytest.raises(ApplicationError) as held:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert held.value.type == kinds.SEND_IN_FLIGHT and not held.value.non_retryable
    assert held.value.next_retry_delay is not None and held.value.next_retry_delay <= timedelta(seconds=3)

    # Meta's `sent` status names the send through its callback data: the row is reconciled.
    await webhook_receiver.wait_for(url, 1)
    await relay_webhooks(webhook_receiver, url, client)
    result = await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)

    assert result.provider_message_id == accepted["id"] and result.duplicate
    assert [m["id"] for m in await _sent_to(sandbox_control, phone)] == [accepted["id"]]
    row = await _outbox(session_factory, data.idempotency_key)
    assert (row.state, row.provider_message_id, row.attempts) == ("sent", accepted["id"], 1)
    async with session_factory() as session:
        [message] = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert (message.direction, message.body, message.provider_message_id) == (
        "outbound",
        "hello exactly once",
        accepted["id"],
    )
    assert message.status in ("sent", "delivered", "read")

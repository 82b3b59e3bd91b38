"""A worker killed in the middle of a send: exactly one message after recovery.

The second test does it for real: a `python -m worker` process is SIGKILLed while the provider holds its answer, a
fresh worker takes over, and the agent's message (`POST /api/v1/leads/{id}/messages`) completes with one message.

The sandbox's `slow_accept` fault accepts and records the message (its status webhooks, carrying our idempotency key
as `biz_opaque_callback_data`, go out at once) but holds the HTTP answer, so the sender can die in the gap between
the provider taking the message and the outbox storing it. The status webhook reconciles the row; the re-run waits
for that instead of sending again.
"""

import asyncio
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from api.app import create_app
from core.config import Settings
from core.payload_codec import data_converter
from domain import whatsapp_messages as kinds
from models import Message, OutboxMessage
from providers.whatsapp.signatures import SIGNATURE_HEADER
from tests.activities.test_whatsapp_send import (
    _agent_sends,
    _answered_late,
    _answered_with_the_one_send,
    _input,
    _lead,
    _phone_of,
    _sent_to,
    _stored_once,
    make_activities,
    sandbox_tenant,
    send_http,
)
from tests.fixtures.crm import TenantContext
from tests.fixtures.module_process import worker_env
from tests.fixtures.sandbox import WebhookReceiver
from tests.fixtures.whatsapp import WhatsAppTenant, add_lead, add_message, eventually
from tests.worker.test_process import polls_from
from tests.workflows.support import server_gave_up
from workflows import search_attributes

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


async def _lead_behind_a_slow_provider(  # type: ignore[no-untyped-def]
    session_factory, tenant: WhatsAppTenant, sandbox_control, webhook_receiver: WebhookReceiver, *, delay_seconds: int
) -> tuple[uuid.UUID, str, str]:
    """A lead in the 24-hour window whose sends the provider answers `delay_seconds` late; the tenant's status
    webhooks go to the receiver at the returned url."""
    lead_id, phone = await _lead(session_factory, tenant, wrote_ago=timedelta(minutes=5))
    url = webhook_receiver.endpoint("cloud")
    await _point_webhooks_at(sandbox_control, tenant, f"token-{tenant.slug.removeprefix('wa-')}", url)
    await sandbox_control.post(
        "/_sandbox/faults", json={"kind": "slow_accept", "to": phone, "delay_seconds": delay_seconds}
    )
    return lead_id, phone, url


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
    lead_id, phone, url = await _lead_behind_a_slow_provider(
        session_factory, sandbox_tenant, sandbox_control, webhook_receiver, delay_seconds=10
    )
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


async def test_a_status_webhook_outrunning_the_providers_answer_is_the_same_one_send(
    make_activities,
    sandbox_tenant: WhatsAppTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
    client: httpx.AsyncClient,
) -> None:  # type: ignore[no-untyped-def]
    # No crash: the webhook reconciles the row while the sender still waits for the answer; the sender then finds
    # the row stored and returns it instead of storing a second message.
    lead_id, phone, url = await _lead_behind_a_slow_provider(
        session_factory, sandbox_tenant, sandbox_control, webhook_receiver, delay_seconds=3
    )
    data = _input(sandbox_tenant, lead_id, text="one and the same")

    sending = asyncio.create_task(ActivityEnvironment().run(make_activities().send_whatsapp_message, data))
    await webhook_receiver.wait_for(url, 1)
    await relay_webhooks(webhook_receiver, url, client)
    assert not sending.done()
    result = await sending

    [accepted] = await _sent_to(sandbox_control, phone)
    assert (result.provider_message_id, result.duplicate) == (accepted["id"], False)
    row = await _outbox(session_factory, data.idempotency_key)
    assert (row.state, row.provider_message_id, str(row.message_id)) == ("sent", accepted["id"], result.message_id)
    async with session_factory() as session:
        stored = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert [m.provider_message_id for m in stored] == [accepted["id"]]


async def _own_namespace(client: Client) -> str:
    """A namespace of this test's own: no in-process test worker (same task queue names) can take its tasks."""
    name = f"crash-{secrets.token_hex(4)}"
    register = RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86_400))

    async def created() -> bool:
        try:
            await client.workflow_service.register_namespace(register, timeout=timedelta(seconds=10))
        except RPCError as err:
            # A busy dev server can give up on the call (cancelled) after or before it created the namespace.
            if err.status == RPCStatusCode.ALREADY_EXISTS:
                return True
            if server_gave_up(err):
                return False
            raise
        return True

    await eventually(created, within_seconds=30)
    request = AddSearchAttributesRequest(
        namespace=name,
        search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL},
    )

    async def registered() -> bool:
        try:
            await client.operator_service.add_search_attributes(request)
        except RPCError:
            return False  # the new namespace is not visible to every service yet
        return True

    await eventually(registered, within_seconds=30)
    return name


class WorkerProcess:
    """`python -m worker` against the test stack, started and SIGKILLed by the test."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, client: Client) -> int:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", env=self.env, stderr=asyncio.subprocess.DEVNULL
        )
        pid = self.process.pid
        await eventually(lambda: polls_from(client, pid), within_seconds=90)
        return pid

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


@pytest.fixture
async def crash_stack(
    settings: Settings, temporal_client: Client, sandbox_url: str
) -> AsyncIterator[tuple[Client, httpx.AsyncClient, list[WorkerProcess], dict[str, str]]]:
    namespace = await _own_namespace(temporal_client)
    client = await Client.connect(
        settings.temporal_address, namespace=namespace, data_converter=data_converter(settings)
    )
    config = settings.model_copy(update={"temporal_namespace": namespace, "sandbox_base_url": sandbox_url})
    application = create_app(config)
    env = worker_env(
        settings,
        LEADFLOW_TEMPORAL_NAMESPACE=namespace,
        LEADFLOW_SANDBOX_BASE_URL=sandbox_url,
        LEADFLOW_WHATSAPP_SEND_RECONCILE_POLL_SECONDS="1",
    )
    workers: list[WorkerProcess] = []
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as api:
            try:
                yield client, api, workers, env
            finally:
                for worker in workers:
                    await worker.kill()


async def test_a_worker_killed_in_the_middle_of_a_send_leaves_exactly_one_message_after_recovery(
    crash_stack: tuple[Client, httpx.AsyncClient, list[WorkerProcess], dict[str, str]],
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    client, api, workers, env = crash_stack
    phone_number_id, token = str(secrets.randbelow(10**15)).zfill(15), f"token-{secrets.token_hex(4)}"
    account = await api.put(
        "/api/v1/whatsapp/account",
        json={"provider": "sandbox", "phone_number_id": phone_number_id, "access_token": token, "app_secret": "s"},
        headers=tenant.headers(),
    )
    assert account.status_code == 200, account.text
    url = webhook_receiver.endpoint("cloud")
    await sandbox_control.post(
        "/_sandbox/accounts/cloud",
        json={"phone_number_id": phone_number_id, "access_token": token, "app_secret": "s", "webhook_url": url},
    )
    lead_id = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, lead_id, body="hi", at=datetime.now(tz=UTC))
    phone = await _phone_of(session_factory, lead_id)
    first = WorkerProcess(env)
    workers.append(first)
    await first.start(client)
    await _answered_late(sandbox_control, phone, 60)

    sending = _agent_sends(api, tenant, lead_id, "Sent once, whatever happens", "crash-1")
    [accepted] = await eventually(lambda: _sent_to(sandbox_control, phone), within_seconds=30)
    await first.kill()  # the provider has the message; the worker never hears its answer

    # The provider's status webhooks (callback data = the outbox key) reach the API meanwhile.
    await webhook_receiver.wait_for(url, 1)
    await relay_webhooks(webhook_receiver, url, api)
    second = WorkerProcess(env)
    workers.append(second)
    await second.start(client)

    await _answered_with_the_one_send(sending, sandbox_control, phone, accepted)
    # One attempt: the killed one. The re-run found the row reconciled and did not go to the provider.
    await _stored_once(session_factory, lead_id, accepted["id"])


async def test_an_attempt_cancelled_right_after_the_provider_answered_leaves_the_answer_to_its_rerun(
    make_activities, sandbox_tenant: WhatsAppTenant, sandbox_control: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """Temporal may cancel an attempt at any await after the provider took the message (here: the pacer's
    bookkeeping, which follows every provider call). The answer is kept before anything else, so the re-run stores
    it instead of sending a second message, even with no reconcile wait at all."""
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    activities = make_activities(whatsapp_send_reconcile_window_seconds=0.0)
    pacer = activities.sender._pacer
    real_sent = pacer.sent
    in_bookkeeping = asyncio.Event()

    async def hang(**_: object) -> None:
        in_bookkeeping.set()
        await asyncio.Event().wait()

    pacer.sent = hang
    data = _input(sandbox_tenant, lead_id, text="answered, then cancelled")
    first = ActivityEnvironment()
    attempt = asyncio.create_task(first.run(activities.send_whatsapp_message, data))
    await asyncio.wait_for(in_bookkeeping.wait(), timeout=30)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    pacer.sent = real_sent

    result = await ActivityEnvironment().run(activities.send_whatsapp_message, data)

    sent = [m["id"] for m in await _sent_to(sandbox_control, phone)]
    assert (sent, result.duplicate) == ([result.provider_message_id], True)

"""PostgreSQL goes away while the provider holds a send's answer: exactly one message once the database is back.

The first test goes through a real lead workflow and worker (in-process, its own namespace) whose database
connections run through a proxy the test cuts (tests/fixtures/outage.py). The sandbox's `slow_accept` fault records
the message and holds its answer; the database is cut as soon as the sandbox has the message and restored after the
answer came back, so the send activity holds the provider's message id while it cannot store it. The status
webhooks of that time are lost (never relayed to the API), and the worker's reconcile window is short: if the id
were dropped, the retried activity would find no confirmation and send the message again within this test.

The second test cuts the database the moment the provider's answer reaches the sender's HTTP client (after the
provider accepted, before the sender read the id), then ends the attempt holding the answer before the database is
back (Temporal cancels it: timed out, worker shut down): the re-run finds the answer the attempt kept in Redis and
stores it instead of sending again.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.whatsapp import WhatsAppActivities
from api.app import create_app
from core.config import Settings
from core.db import create_engine, create_session_factory
from core.payload_codec import data_converter
from models import Message, OutboxMessage
from tests.activities.test_whatsapp_send import (
    _agent_sends,
    _answered_late,
    _answered_with_the_one_send,
    _input,
    _lead,
    _phone_of,
    _sent_to,
    _stored_once,
    sandbox_tenant,
)
from tests.activities.test_whatsapp_send_crash import _own_namespace
from tests.fixtures.crm import TenantContext
from tests.fixtures.outage import PostgresProxy
from tests.fixtures.sandbox import WebhookReceiver
from tests.fixtures.whatsapp import WhatsAppTenant, add_lead, add_message, eventually
from worker.main import build_worker

__all__ = ["sandbox_tenant"]  # a fixture shared with the send tests

# Past the time the sandbox holds the answer (ANSWER_DELAY), so the answer arrives while the database is away.
ANSWER_DELAY_SECONDS = 2.0
OUTAGE_SECONDS = 4.0


@pytest.fixture
async def outage_stack(
    settings: Settings, temporal_client: Client, sandbox_url: str, postgres_proxy: PostgresProxy
) -> AsyncIterator[httpx.AsyncClient]:
    """The API (database reachable) and a worker with its database behind `postgres_proxy`, in their own namespace."""
    namespace = await _own_namespace(temporal_client)
    client = await Client.connect(
        settings.temporal_address, namespace=namespace, data_converter=data_converter(settings)
    )
    config = settings.model_copy(update={"temporal_namespace": namespace, "sandbox_base_url": sandbox_url})
    worker_config = config.model_copy(
        update={
            "database_url": postgres_proxy.url,
            "whatsapp_send_reconcile_window_seconds": 3.0,
            "whatsapp_send_reconcile_poll_seconds": 1.0,
        }
    )
    worker_engine = create_engine(worker_config)
    application = create_app(config)
    async with AsyncExitStack() as resources:
        resources.push_async_callback(worker_engine.dispose)
        worker = build_worker(client, worker_config, create_session_factory(worker_engine), resources)
        async with worker, application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as api:
                yield api


async def _cloud_account(
    api: httpx.AsyncClient, sandbox_control: httpx.AsyncClient, tenant: TenantContext, webhook_url: str
) -> None:
    phone_number_id, token = str(secrets.randbelow(10**15)).zfill(15), f"token-{secrets.token_hex(4)}"
    account = await api.put(
        "/api/v1/whatsapp/account",
        json={"provider": "sandbox", "phone_number_id": phone_number_id, "access_token": token, "app_secret": "s"},
        headers=tenant.headers(),
    )
    assert account.status_code == 200, account.text
    registered = await sandbox_control.post(
        "/_sandbox/accounts/cloud",
        json={"phone_number_id": phone_number_id, "access_token": token, "app_secret": "s", "webhook_url": webhook_url},
    )
    assert registered.status_code == 201, registered.text


async def test_a_database_outage_while_the_provider_answers_still_sends_exactly_one_message(
    outage_stack: httpx.AsyncClient,
    postgres_proxy: PostgresProxy,
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    api = outage_stack
    await _cloud_account(api, sandbox_control, tenant, webhook_receiver.endpoint("cloud"))
    lead_id = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, lead_id, body="hi", at=datetime.now(tz=UTC))
    phone = await _phone_of(session_factory, lead_id)
    await _answered_late(sandbox_control, phone, ANSWER_DELAY_SECONDS)

    sending = _agent_sends(api, tenant, lead_id, "Stored once the database is back", "outage-1")
    [accepted] = await eventually(lambda: _sent_to(sandbox_control, phone), within_seconds=60)
    await postgres_proxy.cut()  # the provider has the message; its answer comes back while the database is away
    await asyncio.sleep(OUTAGE_SECONDS)
    await postgres_proxy.restore()

    await _answered_with_the_one_send(sending, sandbox_control, phone, accepted)
    await _stored_once(session_factory, lead_id, accepted["id"])


async def test_an_attempt_ended_before_the_database_is_back_leaves_the_answer_to_its_rerun(
    postgres_proxy: PostgresProxy,
    proxied_sessions: async_sessionmaker[AsyncSession],
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_tenant: WhatsAppTenant,
    sandbox_control: httpx.AsyncClient,
    redis: Redis,
    settings: Settings,
    sandbox_url: str,
) -> None:
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    # No reconcile wait at all: a re-run that does not know the answer sends again at once.
    config = settings.model_copy(
        update={"sandbox_base_url": sandbox_url, "whatsapp_send_reconcile_window_seconds": 0.0}
    )
    answers: list[httpx.URL] = []

    async def cut_when_the_provider_answers(response: httpx.Response) -> None:
        # Runs once the answer is on the wire and before the sender reads it: the send is accepted, its id not yet
        # known to the attempt. Cutting after polling the sandbox instead races the answer when the test runs slowly.
        if response.request.method == "POST" and response.request.url.path.endswith("/messages") and not answers:
            answers.append(response.request.url)
            await postgres_proxy.cut()

    http = httpx.AsyncClient(timeout=5, event_hooks={"response": [cut_when_the_provider_answers]})
    activities = WhatsAppActivities(session_factory=proxied_sessions, http=http, redis=redis, settings=config)
    data = _input(sandbox_tenant, lead_id, text="kept while the database is away")
    first = ActivityEnvironment()
    heartbeats: list[tuple[Any, ...]] = []
    first.on_heartbeat = lambda *details: heartbeats.append(details)

    async with http:
        attempt = asyncio.create_task(first.run(activities.send_whatsapp_message, data))

        async def holding_the_answer_or_ended() -> bool:
            # Only the store of an accepted send heartbeats: the attempt has the id and waits for PostgreSQL.
            return bool(heartbeats) or attempt.done()

        await eventually(holding_the_answer_or_ended, within_seconds=30)
        assert heartbeats and not attempt.done(), f"the attempt ended before it held the answer: {attempt!r}"
        first.cancel()  # Temporal gave up on this attempt while it waited for the database
        with pytest.raises(asyncio.CancelledError):
            await attempt
        await postgres_proxy.restore()

        result = await ActivityEnvironment().run(activities.send_whatsapp_message, data)

    sent = [m["id"] for m in await _sent_to(sandbox_control, phone)]
    assert (sent, result.duplicate) == ([result.provider_message_id], True)  # the first attempt's message, only
    async with session_factory() as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == data.idempotency_key))
        ).scalar_one()
        [message] = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert (row.state, row.provider_message_id, row.attempts) == ("sent", sent[0], 1)
    assert (message.provider_message_id, message.body) == (sent[0], "kept while the database is away")

"""The interval between two sends to one person holds where the provider receives them, not only where the sends
reserve their turn: time spent between reserving and the request reaching the provider (here a slow database
delays the first send's outbox commit) must not shorten the gap. Gaps are read from the sandbox's own record
(`accepted_at`, when it received each request)."""

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from temporalio.testing import ActivityEnvironment

from activities.whatsapp import WhatsAppActivities
from core.config import Settings
from core.db import async_url, create_session_factory
from tests.activities.test_whatsapp_send import _input, _lead, _sent_to, sandbox_tenant, send_http
from tests.fixtures.outage import PostgresProxy
from tests.fixtures.whatsapp import WhatsAppTenant, eventually

__all__ = ["sandbox_tenant", "send_http"]  # fixtures shared with the send tests

INTERVAL_SECONDS = 1.5
# Each request of the first send reaches PostgreSQL this much later: its outbox commit takes a noticeable part of
# the interval between its reservation and the provider receiving it.
SLOW_DATABASE_SECONDS = 0.25


@pytest.fixture
def paced(settings: Settings, sandbox_url: str) -> Settings:
    """Sends through the sandbox, to one person at least INTERVAL_SECONDS apart; a second send waits its turn in the
    activity."""
    return settings.model_copy(
        update={
            "sandbox_base_url": sandbox_url,
            "whatsapp_recipient_min_interval_seconds": INTERVAL_SECONDS,
            "whatsapp_pacing_max_wait_seconds": 2 * INTERVAL_SECONDS,
        }
    )


async def test_two_sends_to_one_person_reach_the_provider_at_least_the_interval_apart(
    postgres_proxy: PostgresProxy,
    proxied_sessions: async_sessionmaker[AsyncSession],
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_tenant: WhatsAppTenant,
    sandbox_control: httpx.AsyncClient,
    send_http: httpx.AsyncClient,
    redis: Redis,
    paced: Settings,
) -> None:
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    activities = WhatsAppActivities(session_factory=proxied_sessions, http=send_http, redis=redis, settings=paced)

    postgres_proxy.latency_seconds = SLOW_DATABASE_SECONDS
    first_send = asyncio.create_task(
        ActivityEnvironment().run(
            activities.send_whatsapp_message, _input(sandbox_tenant, lead_id, "step-1", text="first")
        )
    )
    await eventually(lambda: _sent_to(sandbox_control, phone), within_seconds=30)
    postgres_proxy.latency_seconds = 0.0  # the second send loses no time between its turn and the provider
    await first_send
    await ActivityEnvironment().run(
        activities.send_whatsapp_message, _input(sandbox_tenant, lead_id, "step-2", text="second")
    )

    received = await _sent_to(sandbox_control, phone)
    assert [m["text"] for m in received] == ["first", "second"]
    first_at, second_at = (datetime.fromisoformat(m["accepted_at"]) for m in received)
    assert (second_at - first_at).total_seconds() >= INTERVAL_SECONDS


async def test_a_send_waiting_its_turn_to_a_person_holds_no_database_connection(
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_tenant: WhatsAppTenant,
    sandbox_control: httpx.AsyncClient,
    send_http: httpx.AsyncClient,
    redis: Redis,
    paced: Settings,
) -> None:
    """Pacing is decided before the outbox row is claimed: a send waiting for the person's interval leaves the
    worker's one pooled connection free for everything else."""
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    config = paced.model_copy(update={"db_pool_size": 1})
    engine = create_async_engine(
        async_url(config.require_database_url()), pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    one_connection = create_session_factory(engine)
    try:
        activities = WhatsAppActivities(session_factory=one_connection, http=send_http, redis=redis, settings=config)
        await ActivityEnvironment().run(
            activities.send_whatsapp_message, _input(sandbox_tenant, lead_id, "step-1", text="first")
        )
        second = asyncio.create_task(
            ActivityEnvironment().run(
                activities.send_whatsapp_message, _input(sandbox_tenant, lead_id, "step-2", text="second")
            )
        )
        await asyncio.sleep(INTERVAL_SECONDS / 3)  # the second send now waits for the person's interval
        assert not second.done()
        async with one_connection() as session:  # within the pool's 0.5 s timeout: the connection is free
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        await second
    finally:
        await engine.dispose()
    assert [m["text"] for m in await _sent_to(sandbox_control, phone)] == ["first", "second"]

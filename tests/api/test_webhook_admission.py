"""Admission control on webhooks: past the in-flight cap a delivery is refused fast (503 + Retry-After) and stores
nothing; redelivered later, as providers do, every message is stored exactly once."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from models import WebhookEvent
from tests.fixtures.infra import app_client, running_app
from tests.fixtures.whatsapp import WhatsAppTenant, fresh_phone_digits, fresh_wamid

pytestmark = pytest.mark.usefixtures("lead_worker")


@pytest.fixture
async def small_app(settings: Settings, inbox_dispatcher: object) -> AsyncIterator[FastAPI]:
    async with running_app(settings, webhook_max_in_flight=2) as application:
        yield application


@pytest.fixture
async def small_client(
    small_app: FastAPI, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(small_app, session_factory) as c:
        yield c


async def _stored(factory: async_sessionmaker[AsyncSession], message_ids: list[str]) -> int:
    keys = [f"message:{m}" for m in message_ids]
    async with factory() as session:
        query = select(func.count()).select_from(WebhookEvent).where(WebhookEvent.provider_event_id.in_(keys))
        return int((await session.execute(query)).scalar_one())


async def test_a_delivery_past_the_cap_is_refused_fast_and_stores_nothing(
    small_app: FastAPI, small_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    message_id = fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=message_id)
    small_app.state.webhooks_in_flight = 2  # two deliveries already being handled
    refused = await wa_tenant.post_cloud(small_client, body)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "retry" in refused.json()["message"]
    assert await _stored(session_factory, [message_id]) == 0

    small_app.state.webhooks_in_flight = 0
    accepted = await wa_tenant.post_cloud(small_client, body)
    assert accepted.status_code == 200
    assert await _stored(session_factory, [message_id]) == 1


async def test_a_burst_over_the_cap_loses_nothing_once_refused_deliveries_are_retried(
    small_app: FastAPI, small_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    message_ids = [fresh_wamid() for _ in range(12)]
    bodies = [
        wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=m) for m in message_ids
    ]
    answers = await asyncio.gather(*(wa_tenant.post_cloud(small_client, b) for b in bodies))
    assert {a.status_code for a in answers} <= {200, 503}
    pending = [b for b, a in zip(bodies, answers, strict=True) if a.status_code == 503]
    for _ in range(50):  # what the provider does: redeliver after Retry-After
        if not pending:
            break
        retried = await asyncio.gather(*(wa_tenant.post_cloud(small_client, b) for b in pending))
        pending = [b for b, a in zip(pending, retried, strict=True) if a.status_code == 503]
        await asyncio.sleep(0.05)
    assert pending == []
    assert await _stored(session_factory, message_ids) == 12
    assert small_app.state.webhooks_in_flight == 0

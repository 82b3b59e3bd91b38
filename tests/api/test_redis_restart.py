"""Redis closing the API's pooled connections (a restart, a failover, an idle timeout): the next request succeeds.

The shared test Redis cannot be restarted, so the server closes this app's connections instead (`CLIENT KILL ID`),
picked by the client name the app gives them (its key prefix, unique to this test): other runs' connections stay.
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from core.config import Settings
from tests.fixtures.crm import PASSWORD, TenantContext

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def own_app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    config = settings.model_copy(update={"redis_prefix": f"{settings.redis_prefix}-restart-{uuid.uuid4().hex[:6]}"})
    application = create_app(config)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, config.redis_prefix


async def _close_connections_named(redis: Redis, name: str) -> int:
    """What a Redis restart does to a client: the server drops its connections; it notices only on next use."""
    killed = 0
    for connection in await redis.client_list():
        if connection.get("name") == name:
            killed += int(await redis.client_kill_filter(_id=connection["id"]))
    return killed


async def test_the_first_login_and_readyz_after_redis_dropped_the_connections_succeed(
    own_app_client: tuple[httpx.AsyncClient, str], redis: Redis, tenant: TenantContext
) -> None:
    client, connection_name = own_app_client
    credentials = {"email": tenant.agent.email, "password": PASSWORD}
    assert (await client.post(LOGIN, json=credentials)).status_code == 200
    assert (await client.get("/readyz")).status_code == 200

    assert await _close_connections_named(redis, connection_name) >= 1
    login = await client.post(LOGIN, json=credentials)
    assert login.status_code == 200, login.text

    assert await _close_connections_named(redis, connection_name) >= 1
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"] == "ok"

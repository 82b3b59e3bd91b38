"""The rate-limit presets: changing one's own password (which ends one's other sessions), the password attempts
limit, the per-sender webhook limit and the per-tenant TTS limit; each refusal a 429 with Retry-After, counted in
`leadflow_rate_limit_refusals_total`."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import create_app
from core.config import Settings
from core.rate_limits import RateLimited, RateLimiter
from core.redis import Keys
from models import WebhookInbox
from tests.fixtures.crm import PASSWORD, MakeTenant, login
from tests.fixtures.whatsapp import create_whatsapp_tenant, fresh_phone_digits, fresh_wamid

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
PASSWORD_URL = "/api/v1/auth/password"


def _refusals(preset: str) -> float:
    return REGISTRY.get_sample_value("leadflow_rate_limit_refusals_total", {"limit": preset}) or 0.0


def _assert_429(response: httpx.Response, preset: str, window: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert response.json()["details"] == {"limit": preset, "retry_after_seconds": retry_after}


async def test_changing_ones_password_ends_ones_other_sessions_only(
    make_client: ClientFactory, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    new_password = f"a new passphrase {uuid.uuid4().hex[:6]}"
    async with make_client() as here, make_client() as elsewhere, make_client() as colleague:
        await login(here, tenant.agent.email, PASSWORD)
        await login(elsewhere, tenant.agent.email, PASSWORD)
        await login(colleague, tenant.admin.email, PASSWORD)
        wrong = await here.post(PASSWORD_URL, json={"current_password": "not it", "new_password": new_password})
        assert wrong.status_code == 403, wrong.text
        assert (await elsewhere.get("/api/v1/auth/me")).status_code == 200, "a refused change ends nothing"
        too_short = await here.post(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "short"})
        assert too_short.status_code == 422 and "new_password" in too_short.text

        changed = await here.post(PASSWORD_URL, json={"current_password": PASSWORD, "new_password": new_password})
        assert changed.status_code == 204, changed.text
        assert (await here.get("/api/v1/auth/me")).status_code == 200, "the session that changed it stays"
        assert (await elsewhere.get("/api/v1/auth/me")).status_code == 401, "the other session ended"
        assert (await colleague.get("/api/v1/auth/me")).status_code == 200, "another user's session is untouched"
    async with make_client() as fresh:
        old = await fresh.post("/api/v1/auth/login", json={"email": tenant.agent.email, "password": PASSWORD})
        assert old.status_code == 401
        await login(fresh, tenant.agent.email, new_password)


async def test_an_api_key_has_no_password_to_change(client: httpx.AsyncClient, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant()
    body = {"current_password": PASSWORD, "new_password": "whatever it is now"}
    answer = await client.post(PASSWORD_URL, json=body, headers=tenant.headers("owner"))
    assert answer.status_code == 400, answer.text


async def test_password_attempts_are_limited_per_user(
    make_client: ClientFactory, make_tenant: MakeTenant, settings: Settings
) -> None:
    tenant = await make_tenant()
    limit, window = settings.rate_limit_password_attempts, settings.rate_limit_password_window_seconds
    before = _refusals("password")
    async with make_client() as c:
        await login(c, tenant.owner.email, PASSWORD)
        body = {"current_password": "a guess", "new_password": "some new passphrase"}
        for _ in range(limit):
            assert (await c.post(PASSWORD_URL, json=body)).status_code == 403
        _assert_429(await c.post(PASSWORD_URL, json=body), "password", window)
        # Even the right password waits for the window: guessing cannot continue by luck.
        right = {"current_password": PASSWORD, "new_password": "some new passphrase"}
        _assert_429(await c.post(PASSWORD_URL, json=right), "password", window)
    assert _refusals("password") == before + 2


async def test_webhook_deliveries_are_limited_per_sender(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_webhook_source_per_window": 3}))
    sender, other = f"10.77.{uuid.uuid4().int % 250}.1", f"10.78.{uuid.uuid4().int % 250}.1"
    before = _refusals("webhook_source")
    async with app.router.lifespan_context(app):

        def client_from(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(ip, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        async with client_from(sender) as c, client_from(other) as o:
            unsigned = {"content": b"{}", "headers": {"Content-Type": "application/json"}}
            for _ in range(3):
                assert (await c.post("/webhooks/whatsapp/cloud", **unsigned)).status_code == 401
            _assert_429(await c.post("/webhooks/whatsapp/cloud", **unsigned), "webhook_source", 60)
            assert (await o.post("/webhooks/whatsapp/cloud", **unsigned)).status_code == 401, "another sender goes on"
            metrics = await c.get("/metrics")
    assert _refusals("webhook_source") == before + 1
    assert 'leadflow_webhook_deliveries_total{outcome="rate_limited",provider="cloud"}' in metrics.text


async def test_tts_is_limited_per_tenant(redis: Redis, settings: Settings) -> None:
    refused: list[str] = []
    limits = RateLimiter(
        redis,
        Keys(settings.redis_prefix),
        settings.model_copy(update={"rate_limit_tts_per_window": 2, "rate_limit_tts_window_seconds": 30}),
        on_refusal=refused.append,
    )
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    await limits.hit("tts", tenant)
    await limits.hit("tts", tenant)
    with pytest.raises(RateLimited) as caught:
        await limits.hit("tts", tenant)
    assert caught.value.status_code == 429 and 1 <= caught.value.retry_after <= 30
    assert caught.value.headers == {"Retry-After": str(caught.value.retry_after)}
    await limits.hit("tts", other)
    assert refused == ["tts"]


async def test_webhook_deliveries_are_limited_per_tenant_past_the_inbox(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A tenant's verified deliveries past `webhook_tenant` are refused 429 (nothing stored, the provider redelivers);
    another tenant's deliveries through the same sender go on."""
    app = create_app(settings.model_copy(update={"rate_limit_webhook_tenant_per_window": 2}))
    flooding, quiet = await create_whatsapp_tenant(session_factory), await create_whatsapp_tenant(session_factory)
    before = _refusals("webhook_tenant")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(f"10.79.{uuid.uuid4().int % 250}.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for _ in range(2):
                body = flooding.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
                assert (await flooding.post_cloud(c, body)).status_code == 200
            refused_id = fresh_wamid()
            body = flooding.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=refused_id)
            _assert_429(await flooding.post_cloud(c, body), "webhook_tenant", 60)
            other = quiet.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
            assert (await quiet.post_cloud(c, other)).status_code == 200, "another tenant goes on"
            metrics = await c.get("/metrics")
    assert _refusals("webhook_tenant") == before + 1
    assert 'leadflow_webhook_deliveries_total{outcome="rate_limited",provider="cloud"}' in metrics.text
    async with session_factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(WebhookInbox).where(WebhookInbox.tenant_id == flooding.id)
        )
    assert stored == 2, "the refused delivery stored nothing"

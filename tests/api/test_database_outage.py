"""PostgreSQL unreachable (stopped, restarting, failing over, gone from the network): every endpoint answers 503 +
Retry-After with the product's error body, never a 500 or a dropped connection, so providers redeliver webhooks and
clients retry; once the database is back the same requests succeed.

The API under test reaches the database through a proxy the test cuts or stalls (tests/fixtures/outage.py): open
pooled connections drop and new ones are refused, as when the server stops, or connect and hear nothing, as when its
host is gone. Its app exceptions become HTTP 500 as in production (`raise_app_exceptions=False`).
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from core.config import Settings
from tests.fixtures.crm import PASSWORD, TenantContext
from tests.fixtures.outage import PostgresProxy
from tests.fixtures.whatsapp import WhatsAppTenant, fresh_phone_digits

LEADS = "/api/v1/leads"


@pytest.fixture
async def api(settings: Settings, postgres_proxy: PostgresProxy) -> AsyncIterator[httpx.AsyncClient]:
    config = settings.model_copy(update={"database_url": postgres_proxy.url, "db_connect_timeout_seconds": 2})
    application = create_app(config)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            yield client


def _assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "service_unavailable"
    assert "database" in body["message"]
    assert body["details"] == {"down": "database"}


async def test_a_webhook_and_api_requests_during_a_database_outage_are_503_with_retry_after(
    api: httpx.AsyncClient, postgres_proxy: PostgresProxy, tenant: TenantContext, wa_tenant: WhatsAppTenant
) -> None:
    inbound = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), text="are you open?")
    # Warm the pool: the outage then hits connections the app believes are fine, as in production.
    assert (await api.get(LEADS, headers=tenant.headers())).status_code == 200
    assert (await wa_tenant.post_cloud(api, wa_tenant.meta_body("webhook_status_sent.json"))).status_code == 200

    await postgres_proxy.cut()

    _assert_database_unavailable(await wa_tenant.post_cloud(api, inbound))
    _assert_database_unavailable(await api.get(LEADS, headers=tenant.headers()))
    _assert_database_unavailable(
        await api.post(LEADS, json={"phone": "+12025550188", "name": "Ada"}, headers=tenant.headers())
    )
    _assert_database_unavailable(
        await api.post("/api/v1/auth/login", json={"email": tenant.agent.email, "password": PASSWORD})
    )

    await postgres_proxy.restore()

    # The provider's redelivery is stored and acknowledged; the API answers again.
    delivered = await wa_tenant.post_cloud(api, inbound)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["received"] == 1
    assert (await api.get(LEADS, headers=tenant.headers())).status_code == 200


async def test_a_database_that_stops_answering_is_a_503_not_a_request_left_hanging(
    api: httpx.AsyncClient, postgres_proxy: PostgresProxy, tenant: TenantContext, wa_tenant: WhatsAppTenant
) -> None:
    # A host gone from the network: connecting never fails, it just gets no answer. Unbounded, the request would
    # outlast the caller, who then hangs up with no answer at all.
    assert (await api.get(LEADS, headers=tenant.headers())).status_code == 200

    await postgres_proxy.stall()

    inbound = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    answered = await asyncio.wait_for(wa_tenant.post_cloud(api, inbound), timeout=60)  # no answer fails, not hangs
    _assert_database_unavailable(answered)

"""LEADFLOW_ENV=prod refuses the provider sandbox, whose credentials are built in: no sandbox account can be
configured, a sandbox account left in the database neither receives webhooks nor sends, and the API and the worker
refuse to start when their settings point at the sandbox."""

import json
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from api.app import create_app
from core.config import Settings
from models import WebhookEvent
from providers.whatsapp.base import ProviderConfigError
from providers.whatsapp.factory import WhatsAppAccount, create_provider
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from tests.fixtures.crm import TenantContext
from tests.fixtures.prod import free_port, prod_env, run_prod_api_until_exit, run_until_exit
from tests.fixtures.whatsapp import create_whatsapp_tenant, fresh_phone_digits, fresh_wamid, sign

ACCOUNT = "/api/v1/whatsapp/account"


@pytest.fixture
async def prod_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update={"env": "prod"}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c


def _assert_sandbox_refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "unprocessable" and "sandbox" in body["message"]
    assert body["details"] == [{"field": "provider", "reason": "sandbox is not available when LEADFLOW_ENV=prod"}]


async def test_a_sandbox_account_cannot_be_created_in_prod(
    prod_client: httpx.AsyncClient, client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    _assert_sandbox_refused(await prod_client.put(ACCOUNT, json={"provider": "sandbox"}, headers=tenant.headers()))
    assert (await prod_client.get(ACCOUNT, headers=tenant.headers())).status_code == 404
    # Outside prod the sandbox stays the local default (on a number of its own: the default one may be another
    # test's tenant's, e.g. one the conformance run's generated bodies created).
    local = {"provider": "sandbox", "phone_number_id": fresh_phone_digits()}
    assert (await client.put(ACCOUNT, json=local, headers=tenant.headers())).status_code == 200


async def test_an_account_cannot_be_switched_to_the_sandbox_in_prod(
    prod_client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    cloud = {"provider": "cloud", "phone_number_id": fresh_phone_digits(), "access_token": "t", "app_secret": "s"}
    assert (await prod_client.put(ACCOUNT, json=cloud, headers=tenant.headers())).status_code == 200
    _assert_sandbox_refused(await prod_client.put(ACCOUNT, json={"provider": "sandbox"}, headers=tenant.headers()))
    assert (await prod_client.get(ACCOUNT, headers=tenant.headers())).json()["provider"] == "cloud"


async def test_a_webhook_signed_with_the_built_in_sandbox_secret_is_refused_in_prod(
    prod_client: httpx.AsyncClient, client: httpx.AsyncClient, settings: Settings, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """A tenant left on the sandbox: anyone knowing the built-in secret could forge its inbound messages."""
    wa = await create_whatsapp_tenant(session_factory, provider="sandbox")
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_by_phone_number_id(wa.phone_number_id)
        assert account is not None
        account.app_secret = None  # as `PUT {"provider": "sandbox"}` leaves it: signed with the built-in secret
        await session.commit()

    async def forge(c: httpx.AsyncClient) -> tuple[int, str]:
        message_id = fresh_wamid()
        body = wa.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=message_id)
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(settings.whatsapp_sandbox_app_secret, raw),
        }
        return (await c.post("/webhooks/whatsapp/cloud", content=raw, headers=headers)).status_code, message_id

    refused, refused_id = await forge(prod_client)
    assert refused == 401
    async with session_factory() as session:
        stored = (
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.provider_event_id == f"message:{refused_id}")
        )
        assert await session.scalar(stored) == 0
    assert (await forge(client))[0] == 200  # the same delivery outside prod is the sandbox working as designed


async def test_a_sandbox_account_does_not_send_in_prod(settings: Settings) -> None:
    prod = settings.model_copy(update={"env": "prod"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(ProviderConfigError, match="sandbox"):
            create_provider(http, WhatsAppAccount(provider="sandbox"), prod)
        assert create_provider(http, WhatsAppAccount(provider="sandbox"), settings).name == "sandbox"


async def test_the_prod_api_refuses_to_start_with_sandbox_settings(settings: Settings) -> None:
    code, stderr = await run_prod_api_until_exit(
        settings, LEADFLOW_SANDBOX_BASE_URL="http://sandbox:8025", LEADFLOW_WHATSAPP_SANDBOX_APP_SECRET="hunter2-x"
    )
    assert code != 0
    assert "invalid configuration" in stderr and "provider sandbox" in stderr
    assert "LEADFLOW_SANDBOX_BASE_URL" in stderr and "LEADFLOW_WHATSAPP_SANDBOX_APP_SECRET" in stderr
    assert "hunter2-x" not in stderr


async def test_the_worker_refuses_to_start_with_sandbox_settings(settings: Settings) -> None:
    env = prod_env(settings, LEADFLOW_WHATSAPP_SANDBOX_ACCESS_TOKEN="sandbox-access-token")
    code, stderr = await run_until_exit(sys.executable, "-m", "worker", env=env)
    assert code != 0
    assert "unset LEADFLOW_WHATSAPP_SANDBOX_ACCESS_TOKEN" in stderr and "Traceback" not in stderr


async def test_the_sandbox_itself_does_not_run_in_prod(settings: Settings) -> None:
    argv = (sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(free_port()))
    code, stderr = await run_until_exit(*argv, env=prod_env(settings))
    assert code != 0 and "does not run when LEADFLOW_ENV=prod" in stderr

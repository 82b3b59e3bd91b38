"""Per-tenant telephony account: Twilio credentials with a write-only, sealed auth token, and the call policy."""

import secrets
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.secret_box import PREFIX, SecretBox
from repositories.telephony_accounts import TelephonyAccountRepository
from tests.fixtures.crm import MakeTenant, TenantContext

URL = "/api/v1/telephony/account"


def account_body(**changes: Any) -> dict[str, Any]:
    return {
        "provider": "twilio",
        "account_sid": "AC" + secrets.token_hex(16),
        "auth_token": "twilio-auth-token-very-secret",
        "caller_ids": ["(415) 555-0100"],
        "voicemail_policy": "drop_message",
        "voicemail_message": "Hi, sorry we missed you. We will call back.",
        "human_answer_mode": "agent",
        "agent_number": "+1 415 555 0199",
        **changes,
    }


async def test_the_auth_token_is_write_only_and_sealed(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    assert (await client.get(URL, headers=tenant.headers())).status_code == 404
    body = account_body()
    put = await client.put(URL, json=body, headers=tenant.headers("admin"))
    assert put.status_code == 200, put.text
    got = await client.get(URL, headers=tenant.headers("owner"))
    for answer in (put, got):
        data = answer.json()
        assert data["has_auth_token"] is True
        assert "twilio-auth-token-very-secret" not in answer.text
        assert data["caller_ids"] == ["+14155550100"]
        assert data["agent_number"] == "+14155550199"
        assert data["voice_url"].endswith(f"/webhooks/twilio/voice/inbound/{data['voice_url'].rsplit('/', 1)[1]}")
    async with session_factory() as session:
        stored = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=tenant.tenant_id)
    assert stored is not None and stored.auth_token is not None and stored.auth_token.startswith(PREFIX)
    assert SecretBox.for_settings(settings).open(stored.auth_token) == "twilio-auth-token-very-secret"

    # Leaving the token out keeps it; the policy changes.
    keep = await client.put(
        URL, json={**body, "auth_token": None, "concurrent_call_limit": 3}, headers=tenant.headers()
    )
    assert keep.status_code == 200, keep.text
    assert keep.json()["has_auth_token"] is True and keep.json()["concurrent_call_limit"] == 3


async def test_agents_may_not_read_or_change_it(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    assert (await client.get(URL, headers=tenant.headers("agent"))).status_code == 403
    assert (await client.put(URL, json=account_body(), headers=tenant.headers("agent"))).status_code == 403


async def test_inconsistent_policy_is_a_422_naming_each_field_and_stores_nothing(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    body = account_body(voicemail_message=" ", agent_number=None, auth_token=None)
    answer = await client.put(URL, json=body, headers=tenant.headers())
    assert answer.status_code == 422, answer.text
    fields = {detail["field"] for detail in answer.json()["details"]}
    assert fields == {"voicemail_message", "agent_number"}
    assert (await client.get(URL, headers=tenant.headers())).status_code == 404

    bad_number = await client.put(URL, json=account_body(caller_ids=["12"]), headers=tenant.headers())
    assert bad_number.status_code == 422 and "caller_ids" in bad_number.text
    no_token = await client.put(URL, json=account_body(auth_token=None), headers=tenant.headers())
    assert no_token.status_code == 422 and "auth_token" in no_token.text
    bad_sid = await client.put(URL, json=account_body(account_sid="XX12"), headers=tenant.headers())
    assert bad_sid.status_code == 422 and "account_sid" in bad_sid.text
    assert (await client.get(URL, headers=tenant.headers())).status_code == 404


async def test_each_tenant_sees_only_its_own_account(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant: MakeTenant
) -> None:
    other = await make_tenant()
    mine = account_body(provider="sandbox", auth_token=None, human_answer_mode="message", answer_message="Hello!")
    assert (await client.put(URL, json=mine, headers=tenant.headers())).status_code == 200
    assert (await client.get(URL, headers=other.headers())).status_code == 404
    got = await client.get(URL, headers=tenant.headers())
    assert got.json()["account_sid"] == mine["account_sid"] and got.json()["has_auth_token"] is False

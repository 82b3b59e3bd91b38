"""Per-tenant WhatsApp account settings (secrets write-only) and the system admin's shard moves."""

import secrets

import httpx
import pytest
from fastapi import FastAPI

from core.secret_box import PREFIX, SecretBox
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from tests.fixtures.crm import MakeTenant, SystemAdminContext, TenantContext
from tests.fixtures.whatsapp import WhatsAppTenant, fresh_phone_digits

ACCOUNT = "/api/v1/whatsapp/account"


def _pnid() -> str:
    return str(secrets.randbelow(10**15)).zfill(15)


async def test_secrets_are_write_only(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    assert (await client.get("/api/v1/whatsapp/account", headers=tenant.headers())).status_code == 404
    body = {
        "provider": "cloud",
        "phone_number_id": _pnid(),
        "display_number": "+14155550100",
        "access_token": "EAAG-very-secret",
        "app_secret": "app-secret-value",
        "verify_token": "verify-me",
    }
    put = await client.put("/api/v1/whatsapp/account", json=body, headers=tenant.headers("admin"))
    assert put.status_code == 200, put.text
    got = await client.get("/api/v1/whatsapp/account", headers=tenant.headers("owner"))
    for answer in (put, got):
        data = answer.json()
        assert data["has_access_token"] is True and data["has_app_secret"] is True and data["has_verify_token"]
        assert data["webhook_url"].endswith("/webhooks/whatsapp/cloud")
        for secret in ("EAAG-very-secret", "app-secret-value", "verify-me"):
            assert secret not in answer.text

    # Leaving a secret out keeps it; the display number changes.
    keep = await client.put(
        "/api/v1/whatsapp/account",
        json={"provider": "cloud", "phone_number_id": body["phone_number_id"], "display_number": "+14155550199"},
        headers=tenant.headers(),
    )
    assert keep.status_code == 200, keep.text
    assert keep.json()["has_app_secret"] is True and keep.json()["display_number"] == "+14155550199"


async def test_a_nul_in_a_setting_is_a_422_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    """PostgreSQL cannot store a NUL: refused as the field's 422 before anything is written (a secret too)."""
    good = {
        "provider": "cloud",
        "phone_number_id": _pnid(),
        "display_number": "+14155550100",
        "access_token": "EAAG-token",
        "app_secret": "first",
        "verify_token": "verify-me",
    }
    assert (await client.put(ACCOUNT, json=good, headers=tenant.headers())).status_code == 200
    for field, value in (("display_number", "+1415555\u00000100"), ("app_secret", "\u0000")):
        response = await client.put(ACCOUNT, json={**good, field: value}, headers=tenant.headers())
        assert response.status_code == 422, response.text
        assert response.json()["details"][0]["field"] == field
    assert (await client.get(ACCOUNT, headers=tenant.headers())).json()["display_number"] == "+14155550100"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"display_number": "not a number"}, "display_number"), ({"bogus": 1}, "bogus")],
)
async def test_a_setting_that_is_not_one_is_a_422_naming_it(
    client: httpx.AsyncClient, tenant: TenantContext, change: dict[str, object], field: str
) -> None:
    response = await client.put(
        ACCOUNT, json={"provider": "cloud", "phone_number_id": _pnid(), **change}, headers=tenant.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field
    assert (await client.get(ACCOUNT, headers=tenant.headers())).status_code == 404


async def test_evolution_without_a_configured_shard_is_the_callers_422(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    """A server with no Evolution shard cannot host an Evolution account: the caller chooses another provider (was a
    503, as if something were down)."""
    response = await client.put("/api/v1/whatsapp/account", json={"provider": "evolution"}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "provider"
    assert "no Evolution API shard" in response.json()["message"]
    assert (await client.get("/api/v1/whatsapp/account", headers=tenant.headers())).status_code == 404


async def test_agents_cannot_manage_the_account(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    response = await client.get("/api/v1/whatsapp/account", headers=tenant.headers("agent"))
    assert response.status_code == 403


async def test_cloud_account_needs_its_credentials(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    response = await client.put(
        "/api/v1/whatsapp/account", json={"provider": "cloud", "phone_number_id": _pnid()}, headers=tenant.headers()
    )
    assert response.status_code == 422
    assert "access_token" in response.json()["message"] and "app_secret" in response.json()["message"]


async def test_a_phone_number_id_belongs_to_one_tenant(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant
) -> None:
    other = await make_tenant()
    body = {"provider": "cloud", "phone_number_id": _pnid(), "access_token": "t", "app_secret": "s"}
    assert (await client.put("/api/v1/whatsapp/account", json=body, headers=tenant.headers())).status_code == 200
    taken = await client.put("/api/v1/whatsapp/account", json=body, headers=other.headers())
    assert taken.status_code == 409


async def test_evolution_tenant_gets_a_shard_and_only_a_system_admin_moves_it(
    evolution_client: httpx.AsyncClient, evolution_app: FastAPI, tenant: TenantContext, system_admin: SystemAdminContext
) -> None:
    names = [s.name for s in evolution_app.state.settings.whatsapp_evolution_shards]
    put = await evolution_client.put(
        "/api/v1/whatsapp/account", json={"provider": "evolution"}, headers=tenant.headers()
    )
    assert put.status_code == 200, put.text
    first = put.json()["shard"]
    assert first in names
    assert put.json()["webhook_url"].endswith(f"/webhooks/whatsapp/evolution/{first}")
    # Saving again does not move it.
    again = await evolution_client.put(
        "/api/v1/whatsapp/account", json={"provider": "evolution"}, headers=tenant.headers()
    )
    assert again.json()["shard"] == first

    target = next(n for n in names if n != first)
    url = f"/api/v1/whatsapp/shards/{tenant.tenant_id}/move"
    assert (await evolution_client.post(url, json={"shard": target}, headers=tenant.headers())).status_code == 403
    moved = await evolution_client.post(url, json={"shard": target}, headers=system_admin.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["shard"] == target
    got = await evolution_client.get("/api/v1/whatsapp/account", headers=tenant.headers())
    assert got.json()["shard"] == target

    unknown = await evolution_client.post(url, json={"shard": "nope"}, headers=system_admin.headers)
    assert unknown.status_code == 422


async def test_me_says_what_a_first_message_to_a_lead_may_be(
    client: httpx.AsyncClient, evolution_client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    """The web app offers a lead without a conversation the composer its provider allows: a template on the Cloud
    API (no window is open before the lead writes), free text on Evolution (no window, no templates)."""
    cloud, evolution = await make_tenant(), await make_tenant()
    assert (await client.get("/api/v1/auth/me", headers=cloud.headers("agent"))).json()["whatsapp"] is None
    body = {"provider": "sandbox", "phone_number_id": _pnid(), "access_token": "t", "app_secret": "s"}
    assert (await client.put("/api/v1/whatsapp/account", json=body, headers=cloud.headers())).status_code == 200
    me = (await client.get("/api/v1/auth/me", headers=cloud.headers("agent"))).json()
    assert me["whatsapp"] == {"first_message": "template"}
    put = await evolution_client.put(
        "/api/v1/whatsapp/account", json={"provider": "evolution"}, headers=evolution.headers()
    )
    assert put.status_code == 200, put.text
    me = (await evolution_client.get("/api/v1/auth/me", headers=evolution.headers("agent"))).json()
    assert me["whatsapp"] == {"first_message": "text"}


async def test_credentials_are_stored_sealed_and_still_verify_webhooks(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, settings
) -> None:
    phone_number_id = _pnid()
    body = {
        "provider": "cloud",
        "phone_number_id": phone_number_id,
        "access_token": "EAAG-stored-sealed",
        "app_secret": "sealed-app-secret",
        "verify_token": "sealed-verify-token",
    }
    assert (await client.put("/api/v1/whatsapp/account", json=body, headers=tenant.headers())).status_code == 200
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_by_phone_number_id(phone_number_id)
    assert account is not None
    box = SecretBox.for_settings(settings)
    for column, value in (
        ("access_token", "EAAG-stored-sealed"),
        ("app_secret", "sealed-app-secret"),
        ("verify_token", "sealed-verify-token"),
    ):
        stored = getattr(account, column)
        assert stored.startswith(PREFIX) and value not in stored, column
        assert box.open(stored) == value

    # The handshake and the signature check open them.
    handshake = await client.get(
        "/webhooks/whatsapp/cloud",
        params={"hub.mode": "subscribe", "hub.verify_token": "sealed-verify-token", "hub.challenge": "4242"},
    )
    assert handshake.status_code == 200 and handshake.text == "4242"
    sender = WhatsAppTenant(
        id=tenant.tenant_id,
        slug=tenant.slug,
        phone_number_id=phone_number_id,
        app_secret="sealed-app-secret",
        verify_token="sealed-verify-token",
    )
    body = sender.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    signed = await sender.post_cloud(client, body)
    assert signed.status_code == 200, signed.text
    # The stored (sealed) form is not the secret: a delivery signed with it is refused.
    forged = await sender.post_cloud(client, body, secret=account.app_secret)
    assert forged.status_code == 401, forged.text


async def test_a_number_the_account_gives_up_stops_verifying_at_once(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    """The API remembers the secret that verified a number's last delivery; changing the account through it forgets
    that, so a delivery to the number the account no longer has is refused at once, not after the cache time."""
    old_number, new_number = _pnid(), _pnid()
    body = {"provider": "cloud", "access_token": "EAAG-move", "app_secret": "moving-secret"}
    put = await client.put(
        "/api/v1/whatsapp/account", json={**body, "phone_number_id": old_number}, headers=tenant.headers()
    )
    assert put.status_code == 200, put.text
    sender = WhatsAppTenant(
        id=tenant.tenant_id, slug=tenant.slug, phone_number_id=old_number, app_secret="moving-secret", verify_token=""
    )
    delivery = sender.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    assert (await sender.post_cloud(client, delivery)).status_code == 200  # verified, and remembered

    moved = await client.put(
        "/api/v1/whatsapp/account", json={**body, "phone_number_id": new_number}, headers=tenant.headers()
    )
    assert moved.status_code == 200, moved.text

    refused = await sender.post_cloud(
        client, sender.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    )
    assert refused.status_code == 401, refused.text

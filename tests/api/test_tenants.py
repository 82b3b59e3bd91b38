"""Tenants: system_admin creates a tenant with its owner and default statuses; slugs are unique; bad input is 422;
the owner (or a system admin) reads and changes its settings."""

import uuid

import pytest

from api.services.tenants import ensure_system_admin
from core.errors import Conflict
from domain.stages import DEFAULT_STATUSES
from tests.fixtures.crm import PASSWORD, login

TENANTS = "/api/v1/tenants"


def _body(**overrides):
    tag = uuid.uuid4().hex[:8]
    body = {
        "name": f"Acme {tag}",
        "slug": f"acme-{tag}",
        "owner_email": f"Owner-{tag}@Example.com",
        "owner_password": PASSWORD,
        "owner_name": "Olga Owner",
        "default_region": "gb",
        "timezone": "Europe/London",
        "speed_to_lead_minutes": 10,
    }
    body.update(overrides)
    return body


async def test_system_admin_creates_a_tenant_whose_owner_can_log_in(client, make_client, system_admin) -> None:
    body = _body()
    response = await client.post(TENANTS, json=body, headers=system_admin.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["slug"] == body["slug"]
    assert created["default_region"] == "GB"
    assert created["speed_to_lead_minutes"] == 10
    assert created["owner"]["email"] == body["owner_email"].lower()
    assert created["owner"]["role"] == "owner"
    assert created["owner"]["tenant_id"] == created["id"]

    async with make_client() as owner:
        await login(owner, body["owner_email"], PASSWORD)
        me = (await owner.get("/api/v1/auth/me")).json()
        assert me["tenant"]["id"] == created["id"]
        statuses = (await owner.get("/api/v1/statuses")).json()
    assert [(s["key"], s["stage"]) for s in statuses] == [(k, str(stage)) for k, _, stage in DEFAULT_STATUSES]
    assert [s["key"] for s in statuses if s["is_default"]] == ["new"]

    listed = await client.get(TENANTS, headers=system_admin.headers)
    assert listed.status_code == 200
    assert created["id"] in {t["id"] for t in listed.json()}


async def test_a_taken_slug_is_409(client, system_admin, tenant) -> None:
    response = await client.post(TENANTS, json=_body(slug=tenant.slug), headers=system_admin.headers)
    assert response.status_code == 409
    assert tenant.slug in response.json()["message"]


async def test_an_owner_email_already_in_use_is_409_and_creates_no_tenant(client, system_admin, tenant) -> None:
    body = _body(owner_email=tenant.agent.email.upper())
    response = await client.post(TENANTS, json=body, headers=system_admin.headers)
    assert response.status_code == 409
    assert response.json()["details"] == {"field": "owner_email"}
    slugs = {t["slug"] for t in (await client.get(TENANTS, headers=system_admin.headers)).json()}
    assert body["slug"] not in slugs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Not A Slug"),
        ("slug", "-leading-hyphen"),
        ("owner_email", "not-an-address"),
        ("owner_password", "short"),
        ("default_region", "ZZ"),
        ("timezone", "Mars/Olympus_Mons"),
        ("speed_to_lead_minutes", -1),
        ("speed_to_lead_minutes", 7 * 24 * 60 + 1),
        ("name", ""),
    ],
)
async def test_bad_input_is_422_naming_the_field(client, system_admin, field: str, value) -> None:
    response = await client.post(TENANTS, json=_body(**{field: value}), headers=system_admin.headers)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["details"]]


async def test_a_tenant_can_be_created_without_speed_to_lead(client, system_admin) -> None:
    response = await client.post(TENANTS, json=_body(speed_to_lead_minutes=0), headers=system_admin.headers)
    assert response.status_code == 201, response.text
    assert response.json()["speed_to_lead_minutes"] == 0


async def test_the_owner_changes_only_the_settings_sent(client, tenant) -> None:
    url = f"{TENANTS}/{tenant.tenant_id}"
    response = await client.patch(url, json={"speed_to_lead_minutes": 0}, headers=tenant.headers("owner"))
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["speed_to_lead_minutes"] == 0
    assert (changed["name"], changed["slug"], changed["timezone"]) == (tenant.name, tenant.slug, "UTC")

    body = {"name": "  Renamed GmbH ", "timezone": "Europe/Berlin", "default_region": "de"}
    response = await client.patch(url, json=body, headers=tenant.headers("owner"))
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["name"], changed["timezone"], changed["default_region"]) == ("Renamed GmbH", "Europe/Berlin", "DE")
    assert changed["speed_to_lead_minutes"] == 0
    me = (await client.get("/api/v1/auth/me", headers=tenant.headers("owner"))).json()
    assert me["tenant"]["name"] == "Renamed GmbH"
    # National numbers are now read as German ones.
    lead = await client.post("/api/v1/leads", json={"phone": "030 12345678"}, headers=tenant.headers("owner"))
    assert lead.status_code == 201, lead.text
    assert lead.json()["phone"] == "+493012345678"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "Mars/Olympus_Mons"),
        ("default_region", "ZZ"),
        ("speed_to_lead_minutes", -1),
        ("speed_to_lead_minutes", 7 * 24 * 60 + 1),
        ("name", ""),
        ("name", None),
        ("timezone", None),
        ("slug", "renamed"),
    ],
)
async def test_bad_settings_are_422_naming_the_field_and_change_nothing(client, tenant, field: str, value) -> None:
    url = f"{TENANTS}/{tenant.tenant_id}"
    response = await client.patch(url, json={"speed_to_lead_minutes": 5, field: value}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert field in [d["field"] for d in body["details"]]
    again = await client.patch(url, json={}, headers=tenant.headers())
    assert again.status_code == 200 and again.json()["speed_to_lead_minutes"] == 15


async def test_only_the_owner_or_a_system_admin_changes_settings(client, tenant, make_tenant, system_admin) -> None:
    url = f"{TENANTS}/{tenant.tenant_id}"
    for role in ("admin", "agent"):
        response = await client.patch(url, json={"speed_to_lead_minutes": 1}, headers=tenant.headers(role))
        assert response.status_code == 403, response.text
    other = await make_tenant()
    response = await client.patch(url, json={"speed_to_lead_minutes": 1}, headers=other.headers("owner"))
    assert response.status_code == 404, response.text
    response = await client.patch(url, json={"speed_to_lead_minutes": 30}, headers=system_admin.headers)
    assert response.status_code == 200 and response.json()["speed_to_lead_minutes"] == 30
    missing = await client.patch(f"{TENANTS}/{uuid.uuid4()}", json={}, headers=system_admin.headers)
    assert missing.status_code == 404


async def test_the_owner_reads_their_settings_and_nobody_elses(client, tenant, make_tenant, system_admin) -> None:
    url = f"{TENANTS}/{tenant.tenant_id}"
    response = await client.get(url, headers=tenant.headers("owner"))
    assert response.status_code == 200, response.text
    current = response.json()
    assert (current["name"], current["timezone"], current["speed_to_lead_minutes"]) == (tenant.name, "UTC", 15)
    for role in ("admin", "agent"):
        assert (await client.get(url, headers=tenant.headers(role))).status_code == 403
    other = await make_tenant()
    assert (await client.get(url, headers=other.headers("owner"))).status_code == 404
    response = await client.get(url, headers=system_admin.headers)
    assert response.status_code == 200 and response.json()["slug"] == tenant.slug
    assert (await client.get(f"{TENANTS}/{uuid.uuid4()}", headers=system_admin.headers)).status_code == 404


async def test_tenant_users_cannot_create_or_list_tenants(client, tenant) -> None:
    assert (await client.post(TENANTS, json=_body(), headers=tenant.headers("owner"))).status_code == 403
    assert (await client.get(TENANTS, headers=tenant.headers("owner"))).status_code == 403


async def test_a_system_admin_has_no_tenant_data(client, system_admin) -> None:
    response = await client.get("/api/v1/statuses", headers=system_admin.headers)
    assert response.status_code == 403
    assert "system_admin" in response.json()["message"]


async def test_ensure_system_admin_is_idempotent_and_never_takes_a_tenant_users_address(
    session_factory, tenant, make_client
) -> None:
    email = f"Root-{uuid.uuid4().hex[:8]}@Example.com"
    async with session_factory() as session:
        first = await ensure_system_admin(session, email=email, password=PASSWORD)
        await session.commit()
    async with session_factory() as session:
        again = await ensure_system_admin(session, email=email.lower(), password="a different password")
        assert again.id == first.id and again.role == "system_admin" and again.tenant_id is None
        with pytest.raises(Conflict):
            await ensure_system_admin(session, email=tenant.owner.email, password=PASSWORD)
    async with make_client() as c:
        await login(c, email, PASSWORD)  # the second call did not change the password
        assert (await c.get(TENANTS)).status_code == 200

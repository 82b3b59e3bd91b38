"""Users of a tenant: owners and admins manage them, admins never touch owners, e-mails are unique, a tenant keeps
an owner, deactivation and password changes end sessions, another tenant's users are invisible (404)."""

import uuid

import pytest

from tests.fixtures.crm import PASSWORD, login

USERS = "/api/v1/users"
ME = "/api/v1/auth/me"


def _new_user(role: str = "agent", **overrides):
    return {"email": f"u-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD, "role": role, **overrides}


async def test_owner_creates_a_user_who_can_log_in(client, make_client, tenant) -> None:
    body = _new_user("agent", full_name="Ana Agent")
    response = await client.post(USERS, json=body, headers=tenant.headers("owner"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["role"] == "agent" and created["is_active"] and created["tenant_id"] == str(tenant.tenant_id)
    assert "password" not in response.text
    async with make_client() as c:
        await login(c, body["email"], PASSWORD)
        assert (await c.get(ME)).json()["user"]["id"] == created["id"]
    listed = (await client.get(USERS, headers=tenant.headers("admin"))).json()
    assert {u["email"] for u in listed} == {tenant.owner.email, tenant.admin.email, tenant.agent.email, body["email"]}


async def test_an_email_already_used_anywhere_is_409(client, tenant, make_tenant) -> None:
    other = await make_tenant()
    for email in (tenant.agent.email, other.agent.email.upper()):
        response = await client.post(USERS, json=_new_user(email=email), headers=tenant.headers("admin"))
        assert response.status_code == 409, response.text
        assert response.json()["details"] == {"field": "email"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "nope"),
        ("email", "new\u0000@example.com"),
        ("full_name", "Ada\u0000"),
        ("password", "short"),
        ("role", "system_admin"),
        ("role", "boss"),
    ],
)
async def test_bad_input_is_422_naming_the_field(client, tenant, field: str, value: str) -> None:
    response = await client.post(USERS, json=_new_user(**{field: value}), headers=tenant.headers("owner"))
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]


async def test_admin_cannot_create_promote_modify_or_deactivate_owners(client, tenant) -> None:
    admin = tenant.headers("admin")
    assert (await client.post(USERS, json=_new_user("owner"), headers=admin)).status_code == 403
    promote = await client.patch(f"{USERS}/{tenant.agent.id}", json={"role": "owner"}, headers=admin)
    assert promote.status_code == 403
    rename = await client.patch(f"{USERS}/{tenant.owner.id}", json={"full_name": "Renamed"}, headers=admin)
    assert rename.status_code == 403
    assert "user:manage_owners" in rename.json()["message"]
    assert (await client.post(f"{USERS}/{tenant.owner.id}/deactivate", headers=admin)).status_code == 403
    owner = (await client.get(f"{USERS}/{tenant.owner.id}", headers=admin)).json()
    assert owner["is_active"] and owner["role"] == "owner" and owner["full_name"] == ""


async def test_owner_may_create_owners_and_admin_may_manage_agents_and_admins(client, tenant) -> None:
    owner_made = await client.post(USERS, json=_new_user("owner"), headers=tenant.headers("owner"))
    assert owner_made.status_code == 201
    promoted = await client.patch(f"{USERS}/{tenant.agent.id}", json={"role": "admin"}, headers=tenant.headers("admin"))
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"


async def test_a_role_change_ends_the_users_sessions_and_the_next_login_has_the_new_role(
    client, make_client, tenant
) -> None:
    async with make_client() as agent:
        await login(agent, tenant.agent.email, PASSWORD)
        assert (await agent.get(USERS)).status_code == 403
        response = await client.patch(
            f"{USERS}/{tenant.agent.id}", json={"role": "admin"}, headers=tenant.headers("owner")
        )
        assert response.status_code == 200
        assert (await agent.get(ME)).status_code == 401
        await login(agent, tenant.agent.email, PASSWORD)
        assert (await agent.get(ME)).json()["role"] == "admin"
        assert (await agent.get(USERS)).status_code == 200


async def test_a_rename_keeps_the_users_sessions(client, make_client, tenant) -> None:
    async with make_client() as agent:
        await login(agent, tenant.agent.email, PASSWORD)
        response = await client.patch(f"{USERS}/{tenant.agent.id}", json={"full_name": "Ana"}, headers=tenant.headers())
        assert response.status_code == 200
        assert (await agent.get(ME)).json()["user"]["full_name"] == "Ana"


async def test_deactivation_ends_sessions_and_refuses_login(client, make_client, tenant) -> None:
    async with make_client() as agent:
        await login(agent, tenant.agent.email, PASSWORD)
        response = await client.post(f"{USERS}/{tenant.agent.id}/deactivate", headers=tenant.headers("admin"))
        assert response.status_code == 200
        assert response.json()["is_active"] is False and response.json()["deactivated_at"]
        assert (await agent.get(ME)).status_code == 401
        again = await agent.post("/api/v1/auth/login", json={"email": tenant.agent.email, "password": PASSWORD})
        assert again.status_code == 403
        assert "deactivated" in again.json()["message"]
    reactivated = await client.patch(f"{USERS}/{tenant.agent.id}", json={"is_active": True}, headers=tenant.headers())
    assert reactivated.json()["is_active"] is True and reactivated.json()["deactivated_at"] is None
    async with make_client() as agent:
        await login(agent, tenant.agent.email, PASSWORD)


async def test_a_new_password_ends_sessions_and_replaces_the_old_one(client, make_client, tenant, fresh_ip) -> None:
    async with make_client() as agent:
        await login(agent, tenant.agent.email, PASSWORD)
        new_password = "a brand new passphrase"
        response = await client.patch(
            f"{USERS}/{tenant.agent.id}", json={"password": new_password}, headers=tenant.headers("admin")
        )
        assert response.status_code == 200
        assert (await agent.get(ME)).status_code == 401
    async with make_client(client_ip=fresh_ip) as agent:
        old = await agent.post("/api/v1/auth/login", json={"email": tenant.agent.email, "password": PASSWORD})
        assert old.status_code == 401
        await login(agent, tenant.agent.email, new_password)


@pytest.mark.parametrize("change", [{"role": "admin"}, {"is_active": False}])
async def test_the_last_active_owner_cannot_be_demoted_or_deactivated(client, tenant, change) -> None:
    response = await client.patch(f"{USERS}/{tenant.owner.id}", json=change, headers=tenant.headers("owner"))
    assert response.status_code == 409
    assert "last active owner" in response.json()["message"]
    second = await client.post(USERS, json=_new_user("owner"), headers=tenant.headers("owner"))
    assert second.status_code == 201
    response = await client.patch(f"{USERS}/{tenant.owner.id}", json=change, headers=tenant.headers("owner"))
    assert response.status_code == 200


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_another_tenants_users_are_not_found(client, tenant, make_tenant, role: str) -> None:
    other = await make_tenant()
    target = other.agent.id
    headers = tenant.headers(role)
    assert (await client.get(f"{USERS}/{target}", headers=headers)).status_code == 404
    assert (await client.patch(f"{USERS}/{target}", json={"full_name": "X"}, headers=headers)).status_code == 404
    assert (await client.post(f"{USERS}/{target}/deactivate", headers=headers)).status_code == 404
    assert str(target) not in (await client.get(USERS, headers=headers)).text
    untouched = (await client.get(f"{USERS}/{target}", headers=other.headers("owner"))).json()
    assert untouched["is_active"] and untouched["full_name"] == "Agent"


async def test_an_unknown_user_id_is_404_and_a_malformed_one_422(client, tenant) -> None:
    assert (await client.get(f"{USERS}/{uuid.uuid4()}", headers=tenant.headers())).status_code == 404
    response = await client.get(f"{USERS}/not-a-uuid", headers=tenant.headers())
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "user_id"

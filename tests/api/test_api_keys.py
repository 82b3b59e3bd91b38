"""API keys: the clear key is shown once, stored hashed, listed by prefix; revocation takes effect at once; a key's
role never exceeds its creator's, then or later (demoting or deactivating the creator caps or disarms their keys);
a key made with a key answers to the same person; another tenant's keys are invisible (404)."""

import uuid

import pytest
from sqlalchemy import select

from core.security import token_digest
from models import ApiKey
from tests.fixtures.crm import PASSWORD, login

KEYS = "/api/v1/api-keys"
ME = "/api/v1/auth/me"
USERS = "/api/v1/users"


async def test_the_key_is_shown_once_and_works_as_bearer(client, tenant, session_factory) -> None:
    response = await client.post(KEYS, json={"name": "web form", "role": "agent"}, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    created = response.json()
    key = created["key"]
    assert key.startswith("lf_") and len(key) > 40
    assert key.startswith(created["prefix"]) and created["prefix"] != key
    assert created["last_used_at"] is None and created["revoked_at"] is None

    listed = await client.get(KEYS, headers=tenant.headers("owner"))
    assert key not in listed.text
    (row,) = [k for k in listed.json() if k["id"] == created["id"]]
    assert "key" not in row and row["prefix"] == created["prefix"] and row["role"] == "agent"

    async with session_factory() as session:
        stored = (await session.execute(select(ApiKey).where(ApiKey.id == uuid.UUID(created["id"])))).scalar_one()
    assert stored.key_hash == token_digest(key) and key not in (stored.key_hash, stored.prefix)

    me = await client.get(ME, headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "agent"
    (used,) = [k for k in (await client.get(KEYS, headers=tenant.headers())).json() if k["id"] == created["id"]]
    assert used["last_used_at"] is not None

    # "last used" has a one-minute resolution: the next calls within the minute leave the mark as it was.
    for _ in range(3):
        assert (await client.get(ME, headers={"Authorization": f"Bearer {key}"})).status_code == 200
    (again,) = [k for k in (await client.get(KEYS, headers=tenant.headers())).json() if k["id"] == created["id"]]
    assert again["last_used_at"] == used["last_used_at"]


async def test_a_revoked_key_is_refused_on_its_next_request(client, tenant) -> None:
    created = (await client.post(KEYS, json={"name": "zapier", "role": "admin"}, headers=tenant.headers())).json()
    bearer = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get(ME, headers=bearer)).status_code == 200
    assert (await client.delete(f"{KEYS}/{created['id']}", headers=tenant.headers("admin"))).status_code == 204
    assert (await client.get(ME, headers=bearer)).status_code == 401
    assert (await client.delete(f"{KEYS}/{created['id']}", headers=tenant.headers("admin"))).status_code == 204
    (row,) = [k for k in (await client.get(KEYS, headers=tenant.headers())).json() if k["id"] == created["id"]]
    assert row["revoked_at"] is not None


@pytest.mark.parametrize(
    ("creator", "role", "status"),
    [("owner", "owner", 201), ("admin", "owner", 403), ("admin", "admin", 201), ("admin", "agent", 201)],
)
async def test_a_keys_role_cannot_exceed_its_creators(client, tenant, creator: str, role: str, status: int) -> None:
    response = await client.post(KEYS, json={"name": "k", "role": role}, headers=tenant.headers(creator))
    assert response.status_code == status, response.text


async def test_a_key_created_in_a_session_records_its_creator(client, make_client, tenant) -> None:
    async with make_client() as admin:
        await login(admin, tenant.admin.email, PASSWORD)
        refused = await admin.post(KEYS, json={"name": "too strong", "role": "owner"})
        assert refused.status_code == 403
        response = await admin.post(KEYS, json={"name": "crm sync", "role": "admin"})
    assert response.status_code == 201
    assert response.json()["created_by_id"] == str(tenant.admin.id)


async def test_agents_cannot_manage_keys(client, tenant) -> None:
    assert (await client.get(KEYS, headers=tenant.headers("agent"))).status_code == 403
    response = await client.post(KEYS, json={"name": "mine", "role": "agent"}, headers=tenant.headers("agent"))
    assert response.status_code == 403


@pytest.mark.parametrize(("body", "field"), [({"role": "agent"}, "name"), ({"name": "x", "role": "god"}, "role")])
async def test_bad_input_is_422_naming_the_field(client, tenant, body, field: str) -> None:
    response = await client.post(KEYS, json=body, headers=tenant.headers())
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]


async def test_another_tenants_keys_are_not_found_and_stay_valid(client, tenant, make_tenant) -> None:
    other = await make_tenant()
    theirs = (await client.post(KEYS, json={"name": "theirs", "role": "agent"}, headers=other.headers())).json()
    assert (await client.delete(f"{KEYS}/{theirs['id']}", headers=tenant.headers("owner"))).status_code == 404
    assert theirs["id"] not in (await client.get(KEYS, headers=tenant.headers("owner"))).text
    assert (await client.get(ME, headers={"Authorization": f"Bearer {theirs['key']}"})).status_code == 200


async def _admins_key(make_client, tenant) -> dict[str, str]:
    """Bearer headers of an admin-role key created by the tenant's admin in a browser session."""
    async with make_client() as admin:
        await login(admin, tenant.admin.email, PASSWORD)
        created = await admin.post(KEYS, json={"name": "crm sync", "role": "admin"})
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def test_a_key_acts_with_no_more_than_its_creators_current_role(client, make_client, tenant) -> None:
    bearer = await _admins_key(make_client, tenant)
    assert (await client.get(USERS, headers=bearer)).status_code == 200

    demoted = await client.patch(f"{USERS}/{tenant.admin.id}", json={"role": "agent"}, headers=tenant.headers())
    assert demoted.status_code == 200, demoted.text
    assert (await client.get(USERS, headers=bearer)).status_code == 403
    me = await client.get(ME, headers=bearer)
    assert me.status_code == 200 and me.json()["role"] == "agent"

    # The key keeps its own role: promoting its creator back gives it back.
    promoted = await client.patch(f"{USERS}/{tenant.admin.id}", json={"role": "admin"}, headers=tenant.headers())
    assert promoted.status_code == 200, promoted.text
    assert (await client.get(USERS, headers=bearer)).status_code == 200


async def test_a_deactivated_creators_keys_are_refused(client, make_client, tenant) -> None:
    bearer = await _admins_key(make_client, tenant)
    deactivated = await client.post(f"{USERS}/{tenant.admin.id}/deactivate", headers=tenant.headers())
    assert deactivated.status_code == 200, deactivated.text
    assert (await client.get(ME, headers=bearer)).status_code == 401
    assert (await client.get(USERS, headers=bearer)).status_code == 401
    # Keys made by someone else are untouched.
    assert (await client.get(USERS, headers=tenant.headers("admin"))).status_code == 200


async def test_a_key_minted_with_a_key_answers_to_the_same_creator(client, make_client, tenant) -> None:
    """Otherwise a person about to be demoted or deactivated keeps their rights through a key made with their key."""
    bearer = await _admins_key(make_client, tenant)
    minted = await client.post(KEYS, json={"name": "backup", "role": "admin"}, headers=bearer)
    assert minted.status_code == 201, minted.text
    assert minted.json()["created_by_id"] == str(tenant.admin.id)
    child = {"Authorization": f"Bearer {minted.json()['key']}"}

    demoted = await client.patch(f"{USERS}/{tenant.admin.id}", json={"role": "agent"}, headers=tenant.headers())
    assert demoted.status_code == 200, demoted.text
    assert (await client.get(USERS, headers=child)).status_code == 403

    deactivated = await client.post(f"{USERS}/{tenant.admin.id}/deactivate", headers=tenant.headers())
    assert deactivated.status_code == 200, deactivated.text
    assert (await client.get(ME, headers=bearer)).status_code == 401
    assert (await client.get(ME, headers=child)).status_code == 401

"""Per-tenant statuses: everyone reads, owners/admins change; keys unique (409), stages validated (422), a status in
use cannot be deleted or re-staged (409 with the count), one `new` status always remains, tenants are isolated."""

import uuid

import pytest

from models import Lead

STATUSES = "/api/v1/statuses"


async def _add_lead(session_factory, tenant, status_key: str, stage: str) -> None:
    async with session_factory() as session:
        session.add(
            Lead(
                tenant_id=tenant.tenant_id,
                phone=f"+1202555{uuid.uuid4().int % 10000:04d}",
                name="In status",
                status_key=status_key,
                stage=stage,
                timezone="UTC",
                custom_fields={},
            )
        )
        await session.commit()


async def _keys(client, tenant) -> list[str]:
    return [s["key"] for s in (await client.get(STATUSES, headers=tenant.headers("agent"))).json()]


async def test_every_role_reads_the_defaults(client, tenant) -> None:
    for role in ("owner", "admin", "agent"):
        response = await client.get(STATUSES, headers=tenant.headers(role))
        assert response.status_code == 200
        assert response.json()[0]["key"] == "new"


async def test_admin_creates_renames_and_deletes_a_status(client, tenant) -> None:
    body = {"key": "demo_booked", "label": "Demo booked", "stage": "qualified"}
    created = await client.post(STATUSES, json=body, headers=tenant.headers("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["position"] == 8 and created.json()["stage"] == "qualified"
    renamed = await client.patch(f"{STATUSES}/demo_booked", json={"label": "Demo set"}, headers=tenant.headers())
    assert renamed.status_code == 200 and renamed.json()["label"] == "Demo set"
    assert "demo_booked" in await _keys(client, tenant)
    assert (await client.delete(f"{STATUSES}/demo_booked", headers=tenant.headers("admin"))).status_code == 204
    assert "demo_booked" not in await _keys(client, tenant)
    assert (await client.delete(f"{STATUSES}/demo_booked", headers=tenant.headers("admin"))).status_code == 404


async def test_agents_cannot_change_statuses(client, tenant) -> None:
    body = {"key": "x", "label": "X", "stage": "new"}
    assert (await client.post(STATUSES, json=body, headers=tenant.headers("agent"))).status_code == 403
    assert (await client.delete(f"{STATUSES}/lost", headers=tenant.headers("agent"))).status_code == 403
    assert "lost" in await _keys(client, tenant)


async def test_a_taken_key_is_409(client, tenant) -> None:
    response = await client.post(
        STATUSES, json={"key": "won", "label": "Won again", "stage": "won"}, headers={**tenant.headers()}
    )
    assert response.status_code == 409
    assert response.json()["details"] == {"field": "key"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "x1", "label": "X", "stage": "pending"}, "stage"),
        ({"key": "Bad Key", "label": "X", "stage": "new"}, "key"),
        ({"key": "x2", "label": "", "stage": "new"}, "label"),
        ({"key": "x3", "label": "X", "stage": "won", "is_default": True}, "is_default"),
    ],
)
async def test_bad_input_is_422_naming_the_field(client, tenant, body, field: str) -> None:
    response = await client.post(STATUSES, json=body, headers=tenant.headers())
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["details"]]


async def test_a_status_in_use_cannot_be_deleted_or_re_staged(client, tenant, session_factory) -> None:
    for _ in range(2):
        await _add_lead(session_factory, tenant, "contacted", "contacted")
    deleted = await client.delete(f"{STATUSES}/contacted", headers=tenant.headers())
    assert deleted.status_code == 409
    assert deleted.json()["details"] == {"lead_count": 2}
    assert "2 lead(s)" in deleted.json()["message"]
    restaged = await client.patch(f"{STATUSES}/contacted", json={"stage": "engaged"}, headers=tenant.headers())
    assert restaged.status_code == 409 and restaged.json()["details"] == {"lead_count": 2}
    relabelled = await client.patch(f"{STATUSES}/contacted", json={"label": "Reached"}, headers=tenant.headers())
    assert relabelled.status_code == 200


async def test_one_status_of_stage_new_always_remains(client, tenant) -> None:
    assert (await client.delete(f"{STATUSES}/new", headers=tenant.headers())).status_code == 409
    moved = await client.patch(f"{STATUSES}/new", json={"stage": "contacted"}, headers=tenant.headers())
    assert moved.status_code == 409
    body = {"key": "fresh", "label": "Fresh", "stage": "new", "is_default": True}
    assert (await client.post(STATUSES, json=body, headers=tenant.headers())).status_code == 201
    assert (await client.delete(f"{STATUSES}/new", headers=tenant.headers())).status_code == 204
    statuses = (await client.get(STATUSES, headers=tenant.headers())).json()
    assert [s["key"] for s in statuses if s["is_default"]] == ["fresh"]
    assert (await client.delete(f"{STATUSES}/fresh", headers=tenant.headers())).status_code == 409


async def test_making_a_status_default_unsets_the_previous_default(client, tenant) -> None:
    await client.post(STATUSES, json={"key": "inbound", "label": "Inbound", "stage": "new"}, headers=tenant.headers())
    response = await client.patch(f"{STATUSES}/inbound", json={"is_default": True}, headers=tenant.headers())
    assert response.status_code == 200 and response.json()["is_default"]
    defaults = [s["key"] for s in (await client.get(STATUSES, headers=tenant.headers())).json() if s["is_default"]]
    assert defaults == ["inbound"]
    refused = await client.patch(f"{STATUSES}/won", json={"is_default": True}, headers=tenant.headers())
    assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "is_default"


async def test_statuses_are_per_tenant(client, tenant, make_tenant) -> None:
    other = await make_tenant()
    body = {"key": "vip", "label": "VIP", "stage": "engaged"}
    assert (await client.post(STATUSES, json=body, headers=other.headers())).status_code == 201
    assert "vip" not in await _keys(client, tenant)
    assert (await client.patch(f"{STATUSES}/vip", json={"label": "Mine"}, headers=tenant.headers())).status_code == 404
    assert (await client.delete(f"{STATUSES}/vip", headers=tenant.headers())).status_code == 404
    # The same key is free in another tenant.
    assert (await client.post(STATUSES, json=body, headers=tenant.headers())).status_code == 201
    theirs = [s for s in (await client.get(STATUSES, headers=other.headers())).json() if s["key"] == "vip"]
    assert theirs[0]["label"] == "VIP"

"""Feature flags: a system admin overrides a tenant's flags; the override applies to that tenant only, the cached
reader sees the change at once in the process that made it, and workflows get flags through the activity."""

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.feature_flags import FeatureFlagActivities
from core.feature_flags import FeatureFlagReader
from domain.feature_flags import FLAGS, FeatureFlag, FeatureFlagsQuery
from repositories.feature_flags import FeatureFlagRepository
from tests.fixtures.crm import MakeTenant, SystemAdminContext, set_flag
from tests.fixtures.sandbox import unique_phone


def _flags(body: dict) -> dict[str, tuple[bool | None, bool]]:  # type: ignore[type-arg]
    return {flag["name"]: (flag["override"], flag["enabled"]) for flag in body["flags"]}


async def test_a_system_admin_overrides_one_tenants_flag(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, make_tenant: MakeTenant
) -> None:
    first, second = await make_tenant(), await make_tenant()
    url = f"/api/v1/admin/tenants/{first.tenant_id}/flags"
    listed = await client.get(url, headers=system_admin.headers)
    assert listed.status_code == 200, listed.text
    assert _flags(listed.json()) == {flag.value: (None, FLAGS[flag].default) for flag in FeatureFlag}

    turned_off = await client.put(f"{url}/ai_agent", json={"enabled": False}, headers=system_admin.headers)
    assert turned_off.status_code == 200, turned_off.text
    assert _flags(turned_off.json())["ai_agent"] == (False, False)
    assert _flags((await client.get(url, headers=system_admin.headers)).json())["ai_agent"] == (False, False)
    other = await client.get(f"/api/v1/admin/tenants/{second.tenant_id}/flags", headers=system_admin.headers)
    assert _flags(other.json())["ai_agent"] == (None, True), "another tenant keeps the default"

    cleared = await client.delete(f"{url}/ai_agent", headers=system_admin.headers)
    assert cleared.status_code == 200
    assert _flags(cleared.json())["ai_agent"] == (None, True)


async def test_flags_refuse_other_roles_unknown_flags_and_unknown_tenants(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    url = f"/api/v1/admin/tenants/{tenant.tenant_id}/flags"
    assert (await client.get(url, headers=tenant.headers("owner"))).status_code == 403
    owner_put = await client.put(f"{url}/calls", json={"enabled": False}, headers=tenant.headers("owner"))
    assert owner_put.status_code == 403
    unknown = await client.put(f"{url}/teleport", json={"enabled": True}, headers=system_admin.headers)
    assert unknown.status_code == 422 and "ai_agent" in unknown.text, unknown.text
    not_bool = await client.put(f"{url}/calls", json={"enabled": "maybe"}, headers=system_admin.headers)
    assert not_bool.status_code == 422
    nobody = f"/api/v1/admin/tenants/{uuid.uuid4()}/flags"
    assert (await client.get(nobody, headers=system_admin.headers)).status_code == 404
    assert (
        await client.put(f"{nobody}/calls", json={"enabled": True}, headers=system_admin.headers)
    ).status_code == 404
    listed = await client.get(url, headers=system_admin.headers)
    assert _flags(listed.json())["calls"] == (None, True), "nothing stored by the refused requests"


async def test_the_reader_caches_until_told_and_the_activity_answers_workflows(
    session_factory: async_sessionmaker[AsyncSession], make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    reader = FeatureFlagReader(session_factory, ttl_seconds=3600)
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is True
    async with session_factory() as session:
        await FeatureFlagRepository(session).set(tenant_id=tenant.tenant_id, flag="calls", enabled=False, by=None)
        await session.commit()
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is True, "cached"
    reader.forget(tenant.tenant_id)
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is False

    fresh = FeatureFlagActivities(FeatureFlagReader(session_factory, ttl_seconds=0))
    answer = await ActivityEnvironment().run(
        fresh.get_feature_flags, FeatureFlagsQuery(tenant_id=str(tenant.tenant_id))
    )
    assert answer.enabled(FeatureFlag.CALLS) is False and answer.enabled(FeatureFlag.AI_AGENT) is True


def _refused_for(answer: httpx.Response, flag: str) -> None:
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["error"] == "feature_disabled" and body["details"] == {"flag": flag}, body
    assert f"'{flag}' feature is off" in body["message"]


async def test_a_tenant_without_the_ai_agent_gets_403_naming_the_flag_and_others_keep_it(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    await set_flag(client, system_admin, tenant.tenant_id, "ai_agent", False)

    _refused_for(await client.get("/api/v1/ai/agent", headers=tenant.headers()), "ai_agent")
    _refused_for(await client.put("/api/v1/ai/agent", json={"mode": "auto"}, headers=tenant.headers()), "ai_agent")
    _refused_for(await client.get("/api/v1/ai/drafts", headers=tenant.headers("agent")), "ai_agent")
    lead = uuid.uuid4()
    handler = await client.put(f"/api/v1/ai/leads/{lead}/handler", json={"handler": "ai"}, headers=tenant.headers())
    _refused_for(handler, "ai_agent")
    usage = await client.get("/api/v1/ai/usage", headers=tenant.headers())
    assert usage.status_code == 200, "what the agent cost stays readable"
    assert (await client.get("/api/v1/ai/agent", headers=other.headers())).status_code == 200

    await set_flag(client, system_admin, tenant.tenant_id, "ai_agent", True)
    assert (await client.get("/api/v1/ai/agent", headers=tenant.headers())).status_code == 200


async def test_a_tenant_without_calls_gets_403_naming_the_flag_and_keeps_its_history(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    created = await client.post("/api/v1/leads", json={"phone": unique_phone()}, headers=tenant.headers())
    assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    await set_flag(client, system_admin, tenant.tenant_id, "calls", False)

    _refused_for(await client.get("/api/v1/telephony/account", headers=tenant.headers()), "calls")
    placed = await client.post(f"/api/v1/leads/{lead_id}/calls", json={}, headers=tenant.headers("agent"))
    _refused_for(placed, "calls")
    history = await client.get(f"/api/v1/leads/{lead_id}/calls", headers=tenant.headers("agent"))
    assert history.status_code == 200 and history.json()["items"] == []

    await set_flag(client, system_admin, tenant.tenant_id, "calls", True)
    placed = await client.post(f"/api/v1/leads/{lead_id}/calls", json={}, headers=tenant.headers("agent"))
    assert placed.status_code == 422 and "telephony account" in placed.text, "past the gate: no account yet"

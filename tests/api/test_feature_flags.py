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
from tests.fixtures.crm import MakeTenant, SystemAdminContext


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

    turned_on = await client.put(f"{url}/ai_agent", json={"enabled": True}, headers=system_admin.headers)
    assert turned_on.status_code == 200, turned_on.text
    assert _flags(turned_on.json())["ai_agent"] == (True, True)
    assert _flags((await client.get(url, headers=system_admin.headers)).json())["ai_agent"] == (True, True)
    other = await client.get(f"/api/v1/admin/tenants/{second.tenant_id}/flags", headers=system_admin.headers)
    assert _flags(other.json())["ai_agent"] == (None, False), "another tenant keeps the default"

    cleared = await client.delete(f"{url}/ai_agent", headers=system_admin.headers)
    assert cleared.status_code == 200
    assert _flags(cleared.json())["ai_agent"] == (None, False)


async def test_flags_refuse_other_roles_unknown_flags_and_unknown_tenants(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    url = f"/api/v1/admin/tenants/{tenant.tenant_id}/flags"
    assert (await client.get(url, headers=tenant.headers("owner"))).status_code == 403
    owner_put = await client.put(f"{url}/calls", json={"enabled": True}, headers=tenant.headers("owner"))
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
    assert _flags(listed.json())["calls"] == (None, False), "nothing stored by the refused requests"


async def test_the_reader_caches_until_told_and_the_activity_answers_workflows(
    session_factory: async_sessionmaker[AsyncSession], make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    reader = FeatureFlagReader(session_factory, ttl_seconds=3600)
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is False
    async with session_factory() as session:
        await FeatureFlagRepository(session).set(tenant_id=tenant.tenant_id, flag="calls", enabled=True, by=None)
        await session.commit()
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is False, "cached"
    reader.forget(tenant.tenant_id)
    assert await reader.enabled(tenant.tenant_id, FeatureFlag.CALLS) is True

    fresh = FeatureFlagActivities(FeatureFlagReader(session_factory, ttl_seconds=0))
    answer = await ActivityEnvironment().run(
        fresh.get_feature_flags, FeatureFlagsQuery(tenant_id=str(tenant.tenant_id))
    )
    assert answer.enabled(FeatureFlag.CALLS) is True and answer.enabled(FeatureFlag.AI_AGENT) is False

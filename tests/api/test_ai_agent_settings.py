"""`GET/PUT /api/v1/ai/agent`: versioned settings per tenant, the API key sealed and write-only, validation."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.factory import AgentFactory
from core.config import Settings
from core.secret_box import PREFIX
from repositories.ai_agent_settings import AiAgentSettingsRepository
from tests.fixtures.crm import TenantContext

SETTINGS = {
    "mode": "draft",
    "model": "gpt-4o-mini",
    "base_url": "http://127.0.0.1:9/v1",
    "api_key": "sk-very-secret-key",
    "system_prompt": "You are the assistant of Acme Gym.",
    "facts": "Membership price: 40 EUR per month",
    "temperature": 0.2,
    "max_output_tokens": 200,
    "tools": ["get_lead", "handoff_to_human"],
    "answer_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "20:00"},
    "debounce_seconds": 3,
    "monthly_token_budget_soft": 1000,
    "monthly_token_budget_hard": 2000,
}


async def test_unconfigured_agent_is_off_as_version_zero(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    answer = await client.get("/api/v1/ai/agent", headers=tenant.headers("admin"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == 0 and answer.json()["mode"] == "off"


async def test_each_change_is_a_new_version_and_the_key_is_write_only(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    first = await client.put("/api/v1/ai/agent", json=SETTINGS, headers=tenant.headers())
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.json()["has_api_key"] is True
    assert first.json()["answer_hours"]["start"] == "08:00:00"
    # Leaving the key out keeps it; another change is version 2.
    second = await client.put(
        "/api/v1/ai/agent", json={**SETTINGS, "api_key": None, "mode": "auto"}, headers=tenant.headers("admin")
    )
    got = await client.get("/api/v1/ai/agent", headers=tenant.headers())
    for answer in (first, second, got):
        assert "sk-very-secret-key" not in answer.text
    assert second.json()["version"] == got.json()["version"] == 2
    assert got.json()["mode"] == "auto" and got.json()["has_api_key"] is True
    assert got.json()["updated_by"].startswith("api_key:")

    async with session_factory() as session:
        row = await AiAgentSettingsRepository(session).current(tenant_id=tenant.tenant_id)
        assert row is not None and row.api_key is not None and row.api_key.startswith(PREFIX)
        config = await AgentFactory(settings).config_for(session, tenant_id=tenant.tenant_id)
    assert config is not None and config.api_key == "sk-very-secret-key" and config.version == 2
    assert "sk-very-secret-key" not in repr(config)

    cleared = await client.put(
        "/api/v1/ai/agent", json={**SETTINGS, "mode": "off", "api_key": ""}, headers=tenant.headers()
    )
    assert cleared.json()["has_api_key"] is False and cleared.json()["version"] == 3


async def test_bad_settings_are_422_naming_the_field(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    cases = [
        ({**SETTINGS, "mode": "sometimes"}, "mode"),
        ({**SETTINGS, "temperature": 3}, "temperature"),
        ({**SETTINGS, "tools": ["delete_everything"]}, "tools"),
        ({**SETTINGS, "base_url": "ftp://x"}, "base_url"),
        ({**SETTINGS, "answer_hours": {"days": ["mon"], "start": "18:00", "end": "09:00"}}, "answer_hours"),
        ({**SETTINGS, "monthly_token_budget_soft": 5000}, "monthly_token_budget_soft"),
        ({**SETTINGS, "answer_hours": {"days": ["mon"], "end": "00:00:00Z"}}, "answer_hours"),
    ]
    for body, field in cases:
        answer = await client.put("/api/v1/ai/agent", json=body, headers=tenant.headers())
        assert answer.status_code == 422, (field, answer.text)
        assert field in answer.text
    # An agent that answers needs a key.
    keyless = await client.put("/api/v1/ai/agent", json={**SETTINGS, "api_key": None}, headers=tenant.headers())
    assert keyless.status_code == 422 and "api_key" in keyless.text
    assert (await client.get("/api/v1/ai/agent", headers=tenant.headers())).json()["version"] == 0


async def test_agents_cannot_change_the_settings(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    answer = await client.put("/api/v1/ai/agent", json=SETTINGS, headers=tenant.headers("agent"))
    assert answer.status_code == 403


async def test_factory_builds_one_client_per_endpoint_and_key(settings: Settings) -> None:
    factory = AgentFactory(settings)
    a = factory.client("http://127.0.0.1:9/v1", "k1")
    assert factory.client("http://127.0.0.1:9/v1", "k1") is a
    assert factory.client("http://127.0.0.1:9/v1", "k2") is not a
    assert a.max_retries == 0
    await factory.aclose()

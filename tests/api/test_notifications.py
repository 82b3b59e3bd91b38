"""Notifications through the HTTP API: a sequence's task notifies its assignee (once, only them); marking one or all
read; another person's notification is a 404; an API key has none."""

import httpx
import pytest

from tests.fixtures.crm import PASSWORD, TenantContext, login
from tests.fixtures.sequences import enroll_in_task_sequence, eventually

pytestmark = pytest.mark.usefixtures("lead_worker")
NOTIFICATIONS = "/api/v1/notifications"


async def test_a_task_notifies_its_assignee_who_marks_it_read(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, make_client
) -> None:  # type: ignore[no-untyped-def]
    leads = await enroll_in_task_sequence(client, tenant, session_factory, count=2)
    async with make_client() as agent, make_client() as owner:
        await login(agent, tenant.agent.email, PASSWORD)
        await login(owner, tenant.owner.email, PASSWORD)

        async def both() -> dict | None:  # type: ignore[type-arg]
            page = (await agent.get(NOTIFICATIONS)).json()
            return page if len(page["items"]) == 2 else None

        page = await eventually(both, within=60, what="two task notifications")
        assert page["unread_count"] == 2
        assert {n["title"] for n in page["items"]} == {"New task: Call Grace Hopper"}
        assert {n["kind"] for n in page["items"]} == {"task_assigned"}
        assert {n["lead_id"] for n in page["items"]} == {str(lead) for lead in leads}
        assert (await owner.get(NOTIFICATIONS)).json() == {"items": [], "unread_count": 0}

        first = page["items"][0]["id"]
        assert (await owner.post(f"{NOTIFICATIONS}/{first}/read")).status_code == 404  # not theirs
        assert (await agent.post(f"{NOTIFICATIONS}/{first}/read")).status_code == 204
        after = (await agent.get(NOTIFICATIONS)).json()
        assert after["unread_count"] == 1
        assert [n["id"] for n in (await agent.get(NOTIFICATIONS, params={"unread": "true"})).json()["items"]] == [
            page["items"][1]["id"]
        ]
        assert (await agent.post(f"{NOTIFICATIONS}/read")).status_code == 204
        assert (await agent.get(NOTIFICATIONS)).json()["unread_count"] == 0


async def test_an_api_key_has_no_notifications(client: httpx.AsyncClient, tenant: TenantContext) -> None:
    response = await client.get(NOTIFICATIONS, headers=tenant.headers("agent"))
    assert response.status_code == 403 and "belong to people" in response.json()["message"]

"""The inbox: conversations latest first with unread counts, a lead's messages, tenant isolation."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.crm import TenantContext, create_test_tenant, login
from tests.fixtures.whatsapp import add_lead, add_message


async def make_test_tenant_lead(session_factory) -> uuid.UUID:  # type: ignore[no-untyped-def]
    other = await create_test_tenant(session_factory)
    return await add_lead(session_factory, other.tenant_id)


async def test_conversations_latest_first_with_unread_counts(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory
) -> None:
    t0 = datetime.now(tz=UTC) - timedelta(hours=1)
    quiet = await add_lead(session_factory, tenant.tenant_id, name="Quiet Lead")
    busy = await add_lead(session_factory, tenant.tenant_id, name="Busy Lead")
    await add_message(session_factory, tenant.tenant_id, quiet, body="first", at=t0)
    await add_message(session_factory, tenant.tenant_id, busy, body="one", at=t0 + timedelta(minutes=1))
    await add_message(session_factory, tenant.tenant_id, busy, body="two", at=t0 + timedelta(minutes=2))
    await add_message(
        session_factory, tenant.tenant_id, busy, direction="outbound", body="reply", at=t0 + timedelta(minutes=3)
    )
    await add_lead(session_factory, tenant.tenant_id, name="No Messages")

    response = await client.get("/api/v1/conversations", headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["lead"]["name"] for i in items] == ["Busy Lead", "Quiet Lead"]
    assert [i["unread_count"] for i in items] == [2, 1]
    assert items[0]["last_message_preview"] == "reply"

    read = await client.post(f"/api/v1/conversations/{items[0]['id']}/read", headers=tenant.headers("agent"))
    assert read.status_code == 204
    again = (await client.get("/api/v1/conversations", headers=tenant.headers("agent"))).json()["items"]
    assert again[0]["unread_count"] == 0


async def test_conversations_paginate(client: httpx.AsyncClient, tenant: TenantContext, session_factory) -> None:
    t0 = datetime.now(tz=UTC) - timedelta(hours=2)
    for i in range(3):
        lead = await add_lead(session_factory, tenant.tenant_id, name=f"Lead {i}")
        await add_message(session_factory, tenant.tenant_id, lead, at=t0 + timedelta(minutes=i))
    first = (await client.get("/api/v1/conversations?limit=2", headers=tenant.headers())).json()
    assert [i["lead"]["name"] for i in first["items"]] == ["Lead 2", "Lead 1"]
    second = (
        await client.get(f"/api/v1/conversations?limit=2&cursor={first['next_cursor']}", headers=tenant.headers())
    ).json()
    assert [i["lead"]["name"] for i in second["items"]] == ["Lead 0"]
    assert second["next_cursor"] is None


async def test_lead_messages_newest_first(client: httpx.AsyncClient, tenant: TenantContext, session_factory) -> None:
    lead = await add_lead(session_factory, tenant.tenant_id)
    t0 = datetime.now(tz=UTC) - timedelta(minutes=10)
    await add_message(session_factory, tenant.tenant_id, lead, body="hi", at=t0)
    await add_message(
        session_factory, tenant.tenant_id, lead, direction="outbound", body="hello!", at=t0 + timedelta(minutes=1)
    )
    response = await client.get(f"/api/v1/leads/{lead}/messages", headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(m["direction"], m["body"]) for m in items] == [("outbound", "hello!"), ("inbound", "hi")]


async def test_another_tenants_conversations_are_invisible(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant, session_factory
) -> None:
    other = await make_tenant()
    lead = await add_lead(session_factory, other.tenant_id, name="Not Yours")
    await add_message(session_factory, other.tenant_id, lead, body="secret")

    messages = await client.get(f"/api/v1/leads/{lead}/messages", headers=tenant.headers())
    assert messages.status_code == 404
    listing = (await client.get("/api/v1/conversations", headers=tenant.headers())).json()["items"]
    assert all(i["lead"]["id"] != str(lead) for i in listing)
    conversation = (await client.get("/api/v1/conversations", headers=other.headers())).json()["items"][0]
    mark = await client.post(f"/api/v1/conversations/{conversation['id']}/read", headers=tenant.headers())
    assert mark.status_code == 404


async def test_conversations_need_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/conversations")).status_code == 401


async def test_conversations_filter_by_owner_unread_and_search(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, make_client
) -> None:
    mine = await add_lead(session_factory, tenant.tenant_id, name="Owned By Agent")
    nobody = await add_lead(session_factory, tenant.tenant_id, name="Nobody's Lead")
    patched = await client.patch(
        f"/api/v1/leads/{mine}", json={"owner_id": str(tenant.agent.id)}, headers=tenant.headers()
    )
    assert patched.status_code == 200, patched.text
    await add_message(session_factory, tenant.tenant_id, mine, body="hello")
    await add_message(session_factory, tenant.tenant_id, nobody, body="anyone there?")
    await add_message(session_factory, tenant.tenant_id, nobody, body="hello?")
    async with make_client() as agent:
        await login(agent, tenant.agent.email, tenant.agent.password)

        async def names(**query: object) -> list[str]:
            response = await agent.get("/api/v1/conversations", params=query)
            assert response.status_code == 200, response.text
            return [item["lead"]["name"] for item in response.json()["items"]]

        assert await names(owner="mine") == ["Owned By Agent"]
        assert await names(owner="unassigned") == ["Nobody's Lead"]
        assert await names(q="nobody") == ["Nobody's Lead"]
        assert await names(q="100%") == []
        conversation = (await agent.get(f"/api/v1/leads/{mine}/conversation")).json()
        await agent.post(f"/api/v1/conversations/{conversation['id']}/read")
        assert await names(unread="true") == ["Nobody's Lead"]
        page = (await agent.get("/api/v1/conversations", params={"owner": "mine"})).json()
        assert page["unread_total"] == 2  # every conversation's, whatever the filter
        empty = (await agent.get("/api/v1/conversations", params={"q": "no such lead"})).json()
        assert empty["items"] == [] and empty["unread_total"] == 2  # also when no conversation matches


async def test_a_leads_conversation_says_whether_free_text_can_be_sent(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory
) -> None:
    now = datetime.now(tz=UTC)
    recent = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, recent, body="hi", at=now - timedelta(hours=2))
    stale = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, stale, body="hi", at=now - timedelta(hours=30))
    silent = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, silent, direction="outbound", body="hello from us")
    never = await add_lead(session_factory, tenant.tenant_id)

    async def conversation(lead_id: object) -> httpx.Response:
        return await client.get(f"/api/v1/leads/{lead_id}/conversation", headers=tenant.headers("agent"))

    open_ = (await conversation(recent)).json()
    assert open_["free_text"] == "open"
    assert datetime.fromisoformat(open_["window_closes_at"]) - now > timedelta(hours=21)
    closed = (await conversation(stale)).json()
    assert closed["free_text"] == "closed" and datetime.fromisoformat(closed["window_closes_at"]) < now
    assert (await conversation(silent)).json()["free_text"] == "closed"
    assert (await conversation(silent)).json()["window_closes_at"] is None
    missing = await conversation(never)
    assert missing.status_code == 404 and "no conversation" in missing.json()["message"]
    other = await make_test_tenant_lead(session_factory)
    assert (await conversation(other)).status_code == 404


async def test_a_leads_conversations_are_a_list_empty_before_the_first_message(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory
) -> None:
    written = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, written, body="hi")
    never = await add_lead(session_factory, tenant.tenant_id)

    async def conversations(lead_id: object) -> httpx.Response:
        return await client.get(f"/api/v1/leads/{lead_id}/conversations", headers=tenant.headers("agent"))

    (listed,) = (await conversations(written)).json()
    single = (await client.get(f"/api/v1/leads/{written}/conversation", headers=tenant.headers("agent"))).json()
    assert listed == single and listed["channel"] == "whatsapp"
    # No conversation yet is an answer, not an error: the lead page asks for every lead.
    empty = await conversations(never)
    assert empty.status_code == 200 and empty.json() == []
    # The lead itself must be the caller's: another tenant's, or none, is still a 404.
    assert (await conversations(await make_test_tenant_lead(session_factory))).status_code == 404
    assert (await conversations(uuid.uuid4())).status_code == 404


async def test_search_finds_a_phone_written_as_the_app_shows_it(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory
) -> None:
    wanted = await add_lead(session_factory, tenant.tenant_id, phone="+14155559114", name="Phone Search")
    other = await add_lead(session_factory, tenant.tenant_id, phone="+14155550199", name="Someone Else")
    await add_message(session_factory, tenant.tenant_id, wanted, body="hi")
    await add_message(session_factory, tenant.tenant_id, other, body="hello")

    async def found(q: str) -> list[str]:
        response = await client.get("/api/v1/conversations", params={"q": q}, headers=tenant.headers("agent"))
        assert response.status_code == 200, response.text
        return [item["lead"]["id"] for item in response.json()["items"]]

    # The formats the app shows and people type: the leads list finds the lead with each of them, so must the inbox.
    for written in ("(415) 555-9114", "+1 (415) 555-9114", "415 555 9114", "415-555-9114", "+14155559114", "9114"):
        assert await found(written) == [str(wanted)], written
        leads = await client.get("/api/v1/leads", params={"q": written}, headers=tenant.headers("agent"))
        assert [lead["id"] for lead in leads.json()["items"]] == [str(wanted)], written
    assert await found("(415) 555") == [str(other), str(wanted)]

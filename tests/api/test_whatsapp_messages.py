"""Agents' manual WhatsApp messages: `POST /api/v1/leads/{id}/messages` runs through the lead's workflow and the send
activity (the provider sandbox over real HTTP records what went out). A NUL character in the body is a 422 up front:
the message reaches the database only in the workflow's activities, which would retry for ever."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from models import Lead
from tests.fixtures.crm import TenantContext
from tests.fixtures.whatsapp import add_lead, add_message, sandbox_account

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")


async def _sent(sandbox_control: httpx.AsyncClient, phone: str) -> list[dict]:  # type: ignore[type-arg]
    return (await sandbox_control.get("/_sandbox/messages", params={"to": phone})).json()["messages"]


async def _lead_who_wrote(client, sandbox_control, tenant, session_factory, ago: timedelta):  # type: ignore[no-untyped-def]
    """A lead of the tenant (its WhatsApp account on the sandbox) whose last message came `ago`."""
    await sandbox_account(client, sandbox_control, tenant.headers())
    lead_id = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, lead_id, body="hi", at=datetime.now(tz=UTC) - ago)
    return lead_id


async def test_an_agent_message_is_sent_once_per_request_id(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(minutes=10))
    url = f"/api/v1/leads/{lead_id}/messages"
    body = {"text": "Yes, it is still available. Want to visit on Saturday?", "request_id": "req-1"}
    first = await client.post(url, json=body, headers=tenant.headers("agent"))
    assert first.status_code == 201, first.text
    again = await client.post(url, json=body, headers=tenant.headers("agent"))
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    message = first.json()
    assert (message["direction"], message["body"]) == ("outbound", body["text"])
    assert message["sent_by"].startswith("api_key:")

    listed = (await client.get(url, headers=tenant.headers())).json()["items"]
    assert [m["direction"] for m in listed] == ["outbound", "inbound"]
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        phone = lead.phone
    sent = await _sent(sandbox_control, phone)
    assert [m["id"] for m in sent] == [message["provider_message_id"]]


async def test_an_idempotency_key_sends_once_and_is_refused_for_another_message(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(minutes=10))
    url = f"/api/v1/leads/{lead_id}/messages"
    keyed = {**tenant.headers("agent"), "Idempotency-Key": "send-1"}
    first = await client.post(url, json={"text": "See you at ten"}, headers=keyed)
    assert first.status_code == 201, first.text
    again = await client.post(url, json={"text": "See you at ten"}, headers=keyed)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"], again.text

    # The same key with another text: answering the first message would tell the agent the second went out.
    other = await client.post(url, json={"text": "See you at eleven"}, headers=keyed)
    assert other.status_code == 422, other.text  # was 201 with the ten o'clock message
    assert other.json()["details"] == [
        {"field": "Idempotency-Key", "reason": "used for another request", "message_id": first.json()["id"]}
    ]
    by_body = await client.post(url, json={"text": "Bring the papers", "request_id": "send-2"}, headers=keyed)
    assert by_body.status_code == 422, by_body.text
    assert by_body.json()["details"][0]["field"] == "request_id"
    reused_in_body = {"text": "See you at eleven", "request_id": "send-1"}
    refused = await client.post(url, json=reused_in_body, headers=tenant.headers("agent"))
    assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "request_id", refused.text

    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        phone = lead.phone
    assert [m["id"] for m in await _sent(sandbox_control, phone)] == [first.json()["provider_message_id"]]


async def test_outside_the_window_free_text_is_refused(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(hours=30))
    response = await client.post(
        f"/api/v1/leads/{lead_id}/messages", json={"text": "Still interested?"}, headers=tenant.headers("agent")
    )
    assert response.status_code == 409, response.text
    assert response.json()["details"]["reason"] == "WhatsAppWindowClosed"
    assert "template" in response.json()["message"]
    template = await client.post(
        f"/api/v1/leads/{lead_id}/messages",
        json={"template": "follow_up", "template_parameters": ["Maria"]},
        headers=tenant.headers("agent"),
    )
    assert template.status_code == 201, template.text
    assert template.json()["template"] == "follow_up"


async def test_an_opted_out_lead_is_refused(
    client: httpx.AsyncClient, tenant: TenantContext, session_factory, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(minutes=1))
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        lead.status_key, lead.stage = "opted_out", "opted_out"
        await session.commit()
    response = await client.post(
        f"/api/v1/leads/{lead_id}/messages", json={"text": "hello"}, headers=tenant.headers("agent")
    )
    assert response.status_code == 409, response.text
    assert response.json()["details"]["reason"] == "LeadOptedOut"


async def test_another_tenants_lead_is_a_404_and_text_or_template_is_required(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    other = await make_tenant()
    lead_id = await add_lead(session_factory, other.tenant_id)
    response = await client.post(f"/api/v1/leads/{lead_id}/messages", json={"text": "hi"}, headers=tenant.headers())
    assert response.status_code == 404
    empty = await client.post(f"/api/v1/leads/{lead_id}/messages", json={}, headers=other.headers())
    assert empty.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "see you\u0000"}, "text"),
        ({"template": "hello", "template_parameters": ["Ada\u0000"]}, "template_parameters"),
        ({"text": "see you", "request_id": "req\u0000"}, "request_id"),
    ],
)
async def test_a_nul_character_is_a_422_naming_the_field_and_nothing_is_sent(
    client: httpx.AsyncClient,
    tenant: TenantContext,
    session_factory,
    sandbox_control: httpx.AsyncClient,
    body: dict,  # type: ignore[type-arg]
    field: str,
) -> None:  # type: ignore[no-untyped-def]
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(minutes=10))
    url = f"/api/v1/leads/{lead_id}/messages"
    try:
        response = await asyncio.wait_for(client.post(url, json=body, headers=tenant.headers("agent")), timeout=20)
    except TimeoutError:
        pytest.fail("a message with a NUL hung (its activity retries for ever)")
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == [field]
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        phone = lead.phone
    assert await _sent(sandbox_control, phone) == []


async def test_no_answer_from_the_workflow_in_time_is_a_503_to_retry_with_the_same_request_id(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: TenantContext,
    session_factory,
    sandbox_control: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    """The update's RPC timed out (Temporal slow, or the send still running): not an RPCError, so caught by itself."""
    lead_id = await _lead_who_wrote(client, sandbox_control, tenant, session_factory, timedelta(minutes=10))

    async def no_answer_in_time(*_: object, **__: object) -> None:
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from RPCError(
            "deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b""
        )

    monkeypatch.setattr(app.state.temporal, "execute_update_with_start_workflow", no_answer_in_time)
    url = f"/api/v1/leads/{lead_id}/messages"
    body = {"text": "Are you free on Saturday?", "request_id": "req-slow"}
    response = await client.post(url, json=body, headers=tenant.headers("agent"))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["details"]["request_id"] == "req-slow"
    monkeypatch.undo()
    retried = await client.post(url, json=body, headers=tenant.headers("agent"))
    assert retried.status_code == 201, retried.text

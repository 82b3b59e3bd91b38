"""Webhooks acknowledge from the inbox: the 200 follows one insert, and the dispatcher does the rest behind it.

These tests post with a plain client (no waiting for the dispatcher), so they see what a provider sees.
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from models import Lead, Message, WebhookInbox
from tests.fixtures.dispatcher import SignalSwitch, wait_for_inbox
from tests.fixtures.whatsapp import WhatsAppTenant, eventually, fresh_phone_digits, fresh_wamid
from workflows.ids import lead_workflow_id

pytestmark = pytest.mark.usefixtures("lead_worker")


@pytest.fixture
async def plain_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def _lead(factory: async_sessionmaker[AsyncSession], tenant_id, phone: str) -> Lead | None:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return (
            await session.execute(select(Lead).where(Lead.tenant_id == tenant_id, Lead.phone == phone))
        ).scalar_one_or_none()


async def _inbound_signals(temporal_client: Client, workflow_id: str) -> list[str]:
    """The provider message ids the workflow's inbound message signals carried, in the order it received them (one
    message each, or a run of the lead's messages the dispatcher handled together)."""
    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    ids = []
    for e in history.events:
        if e.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        attributes = e.workflow_execution_signaled_event_attributes
        if attributes.signal_name in ("record_inbound_message", "record_inbound_messages"):
            # History holds the payloads as encoded (encrypted): the client's converter decodes them.
            (arg,) = await temporal_client.data_converter.decode(list(attributes.input.payloads))
            ids += [message["provider_message_id"] for message in arg.get("messages", [arg])]
    return ids


async def test_the_acknowledgement_stores_the_events_in_one_insert_and_touches_no_crm_row(
    app: FastAPI, plain_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper() + " " + statement)

    sync_engine = app.state.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        sender, message_id = fresh_phone_digits(), fresh_wamid()
        body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id)
        response = await wa_tenant.post_cloud(plain_client, body)
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "queued": 1}
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 1 and "INSERT INTO webhook_inbox" in writes[0]
    assert not [s for s in statements if " lead" in s or " message" in s or " conversation" in s]
    # ... and the dispatcher makes it a lead with its message.
    await wait_for_inbox(session_factory)
    lead = await eventually(lambda: _lead(session_factory, wa_tenant.id, "+" + sender))
    async with session_factory() as session:
        stored = (await session.execute(select(Message).where(Message.lead_id == lead.id))).scalars().all()
    assert [m.provider_message_id for m in stored] == [message_id]


async def test_five_concurrent_deliveries_of_one_event_store_it_once(
    plain_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender, message_id = fresh_phone_digits(), fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id)
    answers = await asyncio.gather(*(wa_tenant.post_cloud(plain_client, body) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert sorted(a.json()["queued"] for a in answers) == [0, 0, 0, 0, 1]
    await wait_for_inbox(session_factory)
    lead = await _lead(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead.id))
    assert await eventually(lambda: _inbound_signals(temporal_client, workflow_id)) == [message_id]


async def test_one_leads_messages_reach_its_workflow_in_the_order_they_were_delivered(
    plain_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    message_ids = [fresh_wamid() for _ in range(6)]
    for n, message_id in enumerate(message_ids):  # delivered one after another, handled behind the answers
        body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id, text=f"#{n}")
        assert (await wa_tenant.post_cloud(plain_client, body)).status_code == 200
    await wait_for_inbox(session_factory)
    lead = await _lead(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead.id))

    async def all_signalled() -> list[str] | None:
        ids = await _inbound_signals(temporal_client, workflow_id)
        return ids if len(ids) == len(message_ids) else None

    assert await eventually(all_signalled) == message_ids


async def _signal_names(temporal_client: Client, workflow_id: str) -> list[str]:
    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]


async def test_a_burst_of_one_leads_messages_is_stored_in_order_and_reaches_its_workflow_as_one_signal(
    plain_client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender)
    value = body["entry"][0]["changes"][0]["value"]
    (template,) = value["messages"]
    message_ids = [fresh_wamid() for _ in range(5)]
    # One delivery carrying five messages of the lead: stored together, waiting back to back for the dispatcher.
    value["messages"] = [{**template, "id": m, "text": {"body": f"#{n}"}} for n, m in enumerate(message_ids)]
    answer = await wa_tenant.post_cloud(plain_client, body)
    assert answer.status_code == 200 and answer.json()["queued"] == 5, answer.text
    await wait_for_inbox(session_factory)

    lead = await _lead(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    async with session_factory() as session:
        stored = (
            (await session.execute(select(Message).where(Message.lead_id == lead.id).order_by(Message.occurred_at)))
            .scalars()
            .all()
        )
    assert sorted(m.provider_message_id for m in stored) == sorted(message_ids)
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead.id))

    async def all_signalled() -> list[str] | None:
        ids = await _inbound_signals(temporal_client, workflow_id)
        return ids if len(ids) == len(message_ids) else None

    assert await eventually(all_signalled) == message_ids
    assert await _signal_names(temporal_client, workflow_id) == ["record_inbound_messages"]
    view = await eventually(lambda: _view_counting(temporal_client, workflow_id, len(message_ids)), within_seconds=10)
    assert view["recent_inbound_ids"][-5:] == message_ids


async def _view_counting(temporal_client: Client, workflow_id: str, messages: int) -> dict | None:
    view = await temporal_client.get_workflow_handle(workflow_id).query("view")
    return view if view["inbound_messages"] == messages else None


async def test_events_stored_while_temporal_is_down_all_drain_once_it_answers(
    plain_client: httpx.AsyncClient,
    wa_tenant: WhatsAppTenant,
    session_factory,
    temporal_client: Client,
    temporal_signals: SignalSwitch,
) -> None:  # type: ignore[no-untyped-def]
    temporal_signals.fail()
    senders = [fresh_phone_digits() for _ in range(20)]
    message_ids = {sender: fresh_wamid() for sender in senders}
    answers = await asyncio.gather(
        *(
            wa_tenant.post_cloud(
                plain_client,
                wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_ids[sender]),
            )
            for sender in senders
        )
    )
    assert [a.status_code for a in answers] == [200] * len(senders)
    keys = [f"message:{m}" for m in message_ids.values()]

    async def states() -> dict[str, int]:
        async with session_factory() as session:
            rows = (await session.execute(select(WebhookInbox).where(WebhookInbox.event_key.in_(keys)))).scalars()
            counts: dict[str, int] = {}
            for row in rows:
                label = "waiting" if row.state == "pending" and row.last_error else row.state
                counts[label] = counts.get(label, 0) + 1
            return counts

    async def all_waiting() -> bool:
        return await states() == {"waiting": len(senders)}  # each tried, none parked: an outage does not count

    await eventually(all_waiting, within_seconds=30)
    temporal_signals.restore()

    async def all_done() -> bool:
        return await states() == {"done": len(senders)}

    await eventually(all_done, within_seconds=60)
    for sender in senders:
        lead = await _lead(session_factory, wa_tenant.id, "+" + sender)
        assert lead is not None
        workflow_id = lead_workflow_id(wa_tenant.slug, str(lead.id))
        assert await _inbound_signals(temporal_client, workflow_id) == [message_ids[sender]]

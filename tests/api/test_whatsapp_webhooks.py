"""Inbound WhatsApp webhooks end to end: verified, stored once, in the lead's conversation, signalled to its workflow.

Bodies are the shared provider fixture files, re-addressed to the test tenant's account and signed with its app
secret over the exact bytes sent. The lead worker runs, so signals reach real LeadWorkflows.
"""

import asyncio
import copy
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from channels.whatsapp.shard_router import ShardRouter
from core.config import EvolutionShard, Settings
from core.secret_box import SecretBox
from models import Conversation, Lead, Message, TimelineEvent, WebhookEvent, WebhookInbox
from repositories.conversations import ConversationRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from tests.fixtures.crm import TenantContext
from tests.fixtures.dispatcher import SignalSwitch, wait_after_webhooks
from tests.fixtures.whatsapp import (
    WhatsAppTenant,
    add_lead,
    add_message,
    create_whatsapp_tenant,
    eventually,
    fresh_phone_digits,
    fresh_wamid,
    provider_fixture,
    sign,
)
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow

pytestmark = pytest.mark.usefixtures("lead_worker")


async def _lead_by_phone(factory: async_sessionmaker[AsyncSession], tenant_id, phone: str) -> Lead | None:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return (
            await session.execute(select(Lead).where(Lead.tenant_id == tenant_id, Lead.phone == phone))
        ).scalar_one_or_none()


async def _opted_out_lead(factory: async_sessionmaker[AsyncSession], tenant: WhatsAppTenant, sender: str) -> Lead:
    """The lead of the WhatsApp number `sender` (digits), once it is opted out."""

    async def opted_out() -> Lead | None:
        lead = await _lead_by_phone(factory, tenant.id, "+" + sender)
        return lead if lead is not None and lead.stage == "opted_out" else None

    lead = await eventually(opted_out)
    assert lead is not None
    return lead


async def _count(factory: async_sessionmaker[AsyncSession], model, *conditions) -> int:  # type: ignore[no-untyped-def]
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*conditions))).scalar_one())


async def _signals(temporal_client: Client, workflow_id: str, name: str = "record_inbound_message") -> int:
    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and event.workflow_execution_signaled_event_attributes.signal_name == name
    )


# Handshake -----------------------------------------------------------------------------------------------------------


async def test_handshake_echoes_the_challenge_for_a_known_verify_token(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant
) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": wa_tenant.verify_token, "hub.challenge": "1158201444"}
    ok = await client.get("/webhooks/whatsapp/cloud", params=query)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await client.get("/webhooks/whatsapp/cloud", params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
    not_subscribe = await client.get("/webhooks/whatsapp/cloud", params={**query, "hub.mode": "unsubscribe"})
    assert not_subscribe.status_code == 403


# Signatures ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "wrong-secret", "tampered"])
async def test_unverified_deliveries_are_refused_and_leave_no_trace(
    signature, client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    message_id = fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id)
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "wrong-secret":
        headers["X-Hub-Signature-256"] = sign("not-the-app-secret", raw)
    elif signature == "tampered":
        headers["X-Hub-Signature-256"] = sign(wa_tenant.app_secret, raw)
        raw = raw.replace(b"Oak Street", b"Elm Street")
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = await client.post("/webhooks/whatsapp/cloud", content=raw, headers=headers)
    assert response.status_code == 401, response.text
    assert await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == f"message:{message_id}") == 0
    assert await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender) is None


async def test_a_signature_for_another_account_does_not_verify(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:
    other = await create_whatsapp_tenant(session_factory)
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    response = await wa_tenant.post_cloud(client, body, secret=other.app_secret)
    assert response.status_code == 401


async def test_an_app_secret_no_configured_key_opens_is_a_503_to_redeliver_and_stores_nothing(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_by_phone_number_id(wa_tenant.phone_number_id)
        assert account is not None
        account.app_secret = SecretBox(["a-key-this-deployment-never-had"]).seal(wa_tenant.app_secret)
        await session.commit()
    message_id = fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=message_id)
    response = await wa_tenant.post_cloud(client, body)
    assert response.status_code == 503, response.text
    assert "app secret" in response.json()["message"] and response.headers["Retry-After"] == "60"
    assert await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == f"message:{message_id}") == 0


async def test_a_rotated_app_secret_verifies_at_once(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:
    """The API remembers the secret that verified an account's delivery (a burst is verified without reading the
    account each time); a delivery signed with a secret rotated meanwhile reads the account again, at once."""

    def body() -> dict[str, object]:
        return wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())

    assert (await wa_tenant.post_cloud(client, body())).status_code == 200
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_by_phone_number_id(wa_tenant.phone_number_id)
        assert account is not None
        account.app_secret = SecretBox.for_settings(Settings()).seal("the-rotated-secret")
        await session.commit()

    rotated = await wa_tenant.post_cloud(client, body(), secret="the-rotated-secret")
    assert rotated.status_code == 200, rotated.text
    assert (await wa_tenant.post_cloud(client, body(), secret="never-the-secret")).status_code == 401


# Meta's webhook references (developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
# message_template_status_update and .../account_update): these fields name the business account (`entry[].id`), never
# a phone number, so no `metadata.phone_number_id` says whose app secret signed them.
_WITHOUT_PHONE_NUMBER_ID = {
    "message_template_status_update": {
        "event": "APPROVED",
        "message_template_id": 806312974732579,
        "message_template_name": "follow_up",
        "message_template_language": "en_US",
        "reason": "NONE",
        "message_template_category": "MARKETING",
    },
    "account_update": {"phone_number": "14155550100", "event": "VERIFIED_ACCOUNT"},
}


def _account_field_body(field: str) -> bytes:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102938475610293",
                "time": 1764150000,
                "changes": [{"value": _WITHOUT_PHONE_NUMBER_ID[field], "field": field}],
            }
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize("field", sorted(_WITHOUT_PHONE_NUMBER_ID))
async def test_a_signed_delivery_of_another_field_is_acknowledged_so_meta_stops_retrying(
    field: str, client: httpx.AsyncClient, wa_tenant: WhatsAppTenant
) -> None:
    raw = _account_field_body(field)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(wa_tenant.app_secret, raw)}
    response = await client.post("/webhooks/whatsapp/cloud", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 0, "queued": 0}


@pytest.mark.parametrize("signature", [None, "wrong-secret"])
async def test_an_unverifiable_delivery_of_another_field_is_still_refused(
    signature: str | None, client: httpx.AsyncClient, wa_tenant: WhatsAppTenant
) -> None:
    raw = _account_field_body("message_template_status_update")
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = sign("not-any-app-secret", raw)
    response = await client.post("/webhooks/whatsapp/cloud", content=raw, headers=headers)
    assert response.status_code == 401, response.text


# Inbound messages ----------------------------------------------------------------------------------------------------


async def test_unknown_number_creates_a_lead_its_conversation_and_its_workflow(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender)
    response = await wa_tenant.post_cloud(client, body)
    assert response.status_code == 200, response.text

    lead = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    assert (lead.source, lead.name, lead.stage) == ("whatsapp", "Maria Lopez", "new")
    async with session_factory() as session:
        conversation = (await session.execute(select(Conversation).where(Conversation.lead_id == lead.id))).scalar_one()
        message = (await session.execute(select(Message).where(Message.lead_id == lead.id))).scalar_one()
    assert conversation.unread_count == 1 and conversation.last_inbound_at is not None
    assert (message.direction, message.body) == ("inbound", "Hi! Is the Oak Street apartment still available?")

    handle = temporal_client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(wa_tenant.slug, str(lead.id)))

    async def recorded() -> bool:
        view = await handle.query(LeadWorkflow.view)
        return view.inbound_messages == 1 and view.last_inbound_at == datetime.fromtimestamp(1764150060, tz=UTC)

    await eventually(recorded)
    # Its workflow is known to run: the sweeper leaves the lead alone.
    started = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
    assert started is not None and started.workflow_started_at is not None


async def test_a_lead_created_by_a_whatsapp_message_has_the_created_event_like_any_lead(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    phone_number_id = str(secrets.randbelow(10**15)).zfill(15)
    account = {"provider": "cloud", "phone_number_id": phone_number_id, "access_token": "t", "app_secret": "s3cret"}
    assert (await client.put("/api/v1/whatsapp/account", json=account, headers=tenant.headers())).status_code == 200
    wa = WhatsAppTenant(
        id=tenant.tenant_id, slug=tenant.slug, phone_number_id=phone_number_id, app_secret="s3cret", verify_token=""
    )
    sender = fresh_phone_digits()
    response = await wa.post_cloud(client, wa.meta_body("webhook_inbound_text.json", sender=sender))
    assert response.status_code == 200, response.text

    leads = (await client.get("/api/v1/leads", params={"q": "+" + sender}, headers=tenant.headers("agent"))).json()
    [lead] = leads["items"]
    timeline = await client.get(f"/api/v1/leads/{lead['id']}/timeline", headers=tenant.headers("agent"))
    created = [event for event in timeline.json() if event["kind"] in ("created", "lead_created")]
    assert [event["kind"] for event in created] == ["created"]  # was "lead_created"
    assert created[0]["data"] == {"source": "whatsapp", "status": "new", "phone": "+" + sender}
    assert created[0]["actor"] == "whatsapp"


async def test_a_delivery_repeated_five_times_is_one_message_and_one_signal(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender, message_id = fresh_phone_digits(), fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id)
    for _ in range(5):
        response = await wa_tenant.post_cloud(client, body)
        assert response.status_code == 200, response.text
    lead = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    assert await _count(session_factory, Message, Message.lead_id == lead.id) == 1
    assert await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == f"message:{message_id}") == 1
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead.id))
    assert await _signals(temporal_client, workflow_id) == 1
    async with session_factory() as session:
        conversation = (await session.execute(select(Conversation).where(Conversation.lead_id == lead.id))).scalar_one()
    assert conversation.unread_count == 1


async def test_a_known_number_lands_in_the_existing_leads_conversation(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    lead_id = await add_lead(session_factory, wa_tenant.id, phone="+" + sender, name="Known Person")
    for text in ("first", "second"):
        body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text=text)
        assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    assert await _count(session_factory, Lead, Lead.tenant_id == wa_tenant.id, Lead.phone == "+" + sender) == 1
    assert await _count(session_factory, Message, Message.lead_id == lead_id) == 2


async def _conversation_of(factory: async_sessionmaker[AsyncSession], tenant_id, phone: str) -> Conversation:  # type: ignore[no-untyped-def]
    lead = await _lead_by_phone(factory, tenant_id, phone)
    assert lead is not None
    async with factory() as session:
        return (await session.execute(select(Conversation).where(Conversation.lead_id == lead.id))).scalar_one()


async def test_a_late_older_message_does_not_replace_the_conversation_preview(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """Meta may deliver out of order (and redelivers later what admission control refused with 503)."""
    sender = fresh_phone_digits()
    newer = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text="newest: see you at 5")
    newer["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1764150500"
    older = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text="older: is it available?")
    older["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1764150100"
    assert (await wa_tenant.post_cloud(client, newer)).status_code == 200
    assert (await wa_tenant.post_cloud(client, older)).status_code == 200
    conversation = await _conversation_of(session_factory, wa_tenant.id, "+" + sender)
    assert conversation.last_message_at is not None and int(conversation.last_message_at.timestamp()) == 1764150500
    assert (conversation.last_message_preview, conversation.unread_count) == ("newest: see you at 5", 2)


async def test_removing_a_reaction_is_not_a_new_unread_blank_message(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    text = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text="Thursday works")
    assert (await wa_tenant.post_cloud(client, text)).status_code == 200
    conversation = await _conversation_of(session_factory, wa_tenant.id, "+" + sender)
    async with session_factory() as session:
        await ConversationRepository(session).mark_read(tenant_id=wa_tenant.id, conversation_id=conversation.id)
        await session.commit()
    # Meta: the same reaction payload without `emoji`.
    removal = wa_tenant.meta_body("webhook_inbound_reaction.json", sender=sender)
    del removal["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"]
    removal_id = removal["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert (await wa_tenant.post_cloud(client, removal)).status_code == 200
    conversation = await _conversation_of(session_factory, wa_tenant.id, "+" + sender)
    assert (conversation.last_message_preview, conversation.unread_count) == ("Thursday works", 0)
    assert await _count(session_factory, Message, Message.provider_message_id == removal_id) == 0
    assert await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == f"message:{removal_id}") == 1


async def test_a_batched_delivery_reaches_both_leads(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    body = wa_tenant.meta_body("webhook_batched_two_messages.json")
    senders = [m["from"] for m in body["entry"][0]["changes"][0]["value"]["messages"]]
    assert len(set(senders)) == 2
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    for sender in senders:
        assert await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender) is not None


def _batch_from(wa: WhatsAppTenant, senders: tuple[str, str]) -> bytes:
    body = wa.meta_body("webhook_batched_two_messages.json")
    value = body["entry"][0]["changes"][0]["value"]
    for message, contact, sender in zip(value["messages"], value["contacts"], senders, strict=True):
        message["from"] = contact["wa_id"] = sender
        message["id"] = fresh_wamid()
    return json.dumps(body, separators=(",", ":")).encode()


async def test_concurrent_deliveries_creating_the_same_two_leads_in_opposite_order_both_succeed(
    app: FastAPI, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """Each delivery's transaction holds the leads it created until it commits: taken in opposite orders, two
    deliveries used to wait for each other until PostgreSQL aborted one (deadlock: a 500, redelivered later)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a server's answer: 500, not a raise
    hooks = wait_after_webhooks(session_factory)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks) as client:
        for _ in range(3):
            first, second = fresh_phone_digits(), fresh_phone_digits()
            if first == second:
                continue
            bodies = [_batch_from(wa_tenant, (first, second)), _batch_from(wa_tenant, (second, first))]
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/webhooks/whatsapp/cloud",
                        content=raw,
                        headers={
                            "Content-Type": "application/json",
                            "X-Hub-Signature-256": sign(wa_tenant.app_secret, raw),
                        },
                    )
                    for raw in bodies
                )
            )
            assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
            for sender in (first, second):
                lead = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
                assert lead is not None
                assert await _count(session_factory, Message, Message.lead_id == lead.id) == 2


@pytest.mark.parametrize("word", ["STOP", "Baja", "ARRÊT", "stopp", "הסר", "unsubscribe!"])
async def test_an_opt_out_keyword_opts_the_lead_out(
    word: str, client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text=word)
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200

    lead = await _opted_out_lead(session_factory, wa_tenant, sender)
    async with session_factory() as session:
        change = (
            await session.execute(
                select(TimelineEvent).where(TimelineEvent.lead_id == lead.id, TimelineEvent.kind == "status_changed")
            )
        ).scalar_one()
    assert change.actor == "whatsapp" and "opt-out" in change.data["reason"]
    assert (await _conversation_of(session_factory, wa_tenant.id, "+" + sender)).opted_out_at is not None


async def test_tapping_the_stop_promotions_button_opts_the_lead_out(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """The quick reply Meta adds to marketing templates (`type=button`, payload and text `Stop promotions`)."""
    sender = fresh_phone_digits()
    await add_lead(session_factory, wa_tenant.id, phone="+" + sender)
    body = wa_tenant.meta_body("webhook_inbound_template_quick_reply_button.json", sender=sender)
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200

    await _opted_out_lead(session_factory, wa_tenant, sender)
    assert (await _conversation_of(session_factory, wa_tenant.id, "+" + sender)).opted_out_at is not None


async def test_an_ordinary_message_mentioning_stop_does_not_opt_out(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sender = fresh_phone_digits()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, text="Can the bus stop near the flat?")
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    lead = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    handle = temporal_client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(wa_tenant.slug, str(lead.id)))

    async def recorded() -> bool:
        return (await handle.query(LeadWorkflow.view)).inbound_messages == 1

    await eventually(recorded)
    assert (await handle.query(LeadWorkflow.view)).stage == "new"


@dataclass(frozen=True)
class SentMessage:
    sender: str  # the lead's WhatsApp number, digits only, as Meta writes it
    lead_id: uuid.UUID
    wamid: str
    message_id: uuid.UUID


async def _sent_message(factory: async_sessionmaker[AsyncSession], tenant: WhatsAppTenant) -> SentMessage:
    """A new lead and a message sent to it, whose statuses the tests then post."""
    sender, wamid = fresh_phone_digits(), fresh_wamid()
    lead_id = await add_lead(factory, tenant.id, phone="+" + sender)
    message_id = await add_message(factory, tenant.id, lead_id, direction="outbound", provider_message_id=wamid)
    return SentMessage(sender, lead_id, wamid, message_id)


# Statuses ------------------------------------------------------------------------------------------------------------


async def test_statuses_move_a_message_forward_only(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sent = await _sent_message(session_factory, wa_tenant)
    sender, wamid, message_id = sent.sender, sent.wamid, sent.message_id
    for fixture in ("webhook_status_sent.json", "webhook_status_read.json", "webhook_status_delivered.json"):
        body = wa_tenant.meta_body(fixture, sender=sender, message_id=wamid)
        assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    # A late failure after read, and a repeat, change nothing either.
    failed = wa_tenant.meta_body("webhook_status_failed_131026.json", sender=sender, message_id=wamid)
    assert (await wa_tenant.post_cloud(client, failed)).status_code == 200
    async with session_factory() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    assert message.status == "read"
    assert message.sent_at is not None and message.delivered_at is not None and message.read_at is not None


async def test_a_failed_status_records_the_error(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sent = await _sent_message(session_factory, wa_tenant)
    sender, wamid, message_id = sent.sender, sent.wamid, sent.message_id
    for fixture in ("webhook_status_sent.json", "webhook_status_failed_131026.json"):
        body = wa_tenant.meta_body(fixture, sender=sender, message_id=wamid)
        assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    async with session_factory() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    assert (message.status, message.error_code, message.error_message) == ("failed", "131026", "Message undeliverable")


async def test_a_marketing_opt_out_status_opts_the_lead_out(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sent = await _sent_message(session_factory, wa_tenant)
    sender, wamid = sent.sender, sent.wamid
    body = wa_tenant.meta_body("webhook_status_failed_131050.json", sender=sender, message_id=wamid)
    for _ in range(2):
        assert (await wa_tenant.post_cloud(client, body)).status_code == 200

    await _opted_out_lead(session_factory, wa_tenant, sender)
    async with session_factory() as session:
        message = (await session.execute(select(Message).where(Message.provider_message_id == wamid))).scalar_one()
    assert (message.status, message.error_code) == ("failed", "131050")


async def test_a_marketing_opt_out_status_whose_signal_failed_is_signalled_once_temporal_answers(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_signals: SignalSwitch
) -> None:  # type: ignore[no-untyped-def]
    """Like an inbound message: Temporal down -> acknowledged, and the dispatcher's retry opts the lead out."""
    sent = await _sent_message(session_factory, wa_tenant)
    sender, wamid = sent.sender, sent.wamid
    body = wa_tenant.meta_body("webhook_status_failed_131050.json", sender=sender, message_id=wamid)
    temporal_signals.fail()
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    await eventually(lambda: _inbox_retrying(session_factory, f"status:{wamid}:failed"))
    temporal_signals.restore()

    await _opted_out_lead(session_factory, wa_tenant, sender)


async def test_a_status_for_an_unknown_message_is_stored_and_acknowledged(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    wamid = fresh_wamid()
    body = wa_tenant.meta_body("webhook_status_delivered.json", message_id=wamid)
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    assert (
        await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == f"status:{wamid}:delivered") == 1
    )


async def test_another_tenants_signed_status_cannot_change_our_message(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    """Tenant admins choose their own app secret, so any tenant can sign a status for its own phone number id."""
    lead_id = await add_lead(session_factory, wa_tenant.id, phone="+" + fresh_phone_digits())
    wamid = fresh_wamid()
    message_id = await add_message(
        session_factory, wa_tenant.id, lead_id, direction="outbound", provider_message_id=wamid
    )
    other_tenant = await create_whatsapp_tenant(session_factory)
    forged = other_tenant.meta_body("webhook_status_failed_131026.json", message_id=wamid)
    assert (await other_tenant.post_cloud(client, forged)).status_code == 200
    async with session_factory() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    assert (message.status, message.error_code, message.failed_at) == ("pending", None, None)
    # Nor does storing it first swallow the real status when Meta delivers it to us.
    real = wa_tenant.meta_body("webhook_status_failed_131026.json", message_id=wamid)
    assert (await wa_tenant.post_cloud(client, real)).status_code == 200
    async with session_factory() as session:
        message = await session.get(Message, message_id)
    assert message is not None and (message.status, message.error_code) == ("failed", "131026")


async def test_another_tenant_storing_our_message_id_first_does_not_swallow_our_inbound_message(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    wamid = fresh_wamid()
    other_tenant = await create_whatsapp_tenant(session_factory)
    forged = other_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=wamid)
    assert (await other_tenant.post_cloud(client, forged)).status_code == 200
    sender = fresh_phone_digits()
    real = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=wamid, text="the real one")
    assert (await wa_tenant.post_cloud(client, real)).status_code == 200
    async with session_factory() as session:
        ours = (
            await session.execute(
                select(Message).where(Message.tenant_id == wa_tenant.id, Message.provider_message_id == wamid)
            )
        ).scalar_one_or_none()
    assert ours is not None and ours.body == "the real one"
    async with session_factory() as session:
        received = (
            (
                await session.execute(
                    select(TimelineEvent.data).where(
                        TimelineEvent.lead_id == ours.lead_id, TimelineEvent.kind == "whatsapp_received"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [data["body"] for data in received] == ["the real one"]  # and it is on our lead's timeline


async def test_a_malformed_but_signed_body_is_a_400(client: httpx.AsyncClient, wa_tenant: WhatsAppTenant) -> None:
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits())
    body["object"] = "page"
    response = await wa_tenant.post_cloud(client, body)
    assert response.status_code == 400


async def test_an_oversized_body_is_refused_unread(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/whatsapp/cloud", content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"X-Hub-Signature-256": "x"}
    )
    assert response.status_code == 413


async def test_an_oversized_chunked_body_is_refused_once_past_the_limit(client: httpx.AsyncClient) -> None:
    """No Content-Length (chunked): reading stops soon after 1 MiB instead of buffering the whole body first."""
    chunk = b" " * 65536
    sent = 0

    async def twenty_mib() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"{"
        for _ in range(320):
            sent += len(chunk)
            yield chunk
        yield b"}"

    response = await client.post(
        "/webhooks/whatsapp/cloud", content=twenty_mib(), headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}
    )
    assert response.status_code == 413
    assert sent <= 2 * 1024 * 1024, f"{sent} bytes were read before the 413"


# Evolution -----------------------------------------------------------------------------------------------------------


async def _evolution_tenant(session_factory, shards: list[EvolutionShard]) -> tuple[WhatsAppTenant, EvolutionShard]:  # type: ignore[no-untyped-def]
    tenant = await create_whatsapp_tenant(session_factory, provider="evolution")
    async with session_factory() as session:
        shard = await ShardRouter(shards).shard_for(session, tenant_id=tenant.id)
        await session.commit()
    return tenant, shard


def _evolution_body(fixture: str, shard: EvolutionShard, *, sender: str, key: str, message_id: str) -> dict:  # type: ignore[type-arg]
    body = copy.deepcopy(provider_fixture(f"evolution/{fixture}"))
    body["instance"] = shard.instance
    body["apikey"] = key
    data = body["data"]
    if "key" in data:
        data["key"]["remoteJid"] = f"{sender}@s.whatsapp.net"
        data["key"]["id"] = message_id
    if "keyId" in data:
        data["keyId"] = message_id
        data["remoteJid"] = f"{sender}@s.whatsapp.net"
    return body


async def test_evolution_inbound_with_the_shard_key_creates_the_lead(
    evolution_client: httpx.AsyncClient, evolution_shards, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    tenant, shard = await _evolution_tenant(session_factory, evolution_shards)
    sender, message_id = fresh_phone_digits(), fresh_wamid().removeprefix("wamid.").upper()
    body = _evolution_body(
        "webhook_messages_upsert_text.json", shard, sender=sender, key=shard.api_key, message_id=message_id
    )
    url = f"/webhooks/whatsapp/evolution/{shard.name}"
    for _ in range(3):
        response = await evolution_client.post(url, json=body)
        assert response.status_code == 200, response.text
    lead = await _lead_by_phone(session_factory, tenant.id, "+" + sender)
    assert lead is not None and lead.source == "whatsapp"
    assert await _count(session_factory, Message, Message.lead_id == lead.id) == 1
    assert await _signals(temporal_client, lead_workflow_id(tenant.slug, str(lead.id))) == 1


async def test_evolution_without_the_shard_key_is_refused(
    evolution_client: httpx.AsyncClient, evolution_shards, session_factory
) -> None:  # type: ignore[no-untyped-def]
    tenant, shard = await _evolution_tenant(session_factory, evolution_shards)
    sender = fresh_phone_digits()
    body = _evolution_body(
        "webhook_messages_upsert_text.json", shard, sender=sender, key="not-the-key", message_id=fresh_wamid()
    )
    response = await evolution_client.post(f"/webhooks/whatsapp/evolution/{shard.name}", json=body)
    assert response.status_code == 401
    assert await _lead_by_phone(session_factory, tenant.id, "+" + sender) is None
    header = await evolution_client.post(
        f"/webhooks/whatsapp/evolution/{shard.name}",
        json={**body, "apikey": None},
        headers={"x-leadflow-shard-key": shard.api_key},
    )
    assert header.status_code == 200
    unknown = await evolution_client.post("/webhooks/whatsapp/evolution/no-such-shard", json=body)
    assert unknown.status_code == 404


async def test_evolution_status_update_marks_the_message_delivered(
    evolution_client: httpx.AsyncClient, evolution_shards, session_factory
) -> None:  # type: ignore[no-untyped-def]
    tenant, shard = await _evolution_tenant(session_factory, evolution_shards)
    sender = fresh_phone_digits()
    lead_id = await add_lead(session_factory, tenant.id, phone="+" + sender)
    key_id = "3EB0" + fresh_wamid()[-18:].upper()
    message_id = await add_message(
        session_factory, tenant.id, lead_id, direction="outbound", provider_message_id=key_id
    )
    body = _evolution_body(
        "webhook_messages_update_delivered.json", shard, sender=sender, key=shard.api_key, message_id=key_id
    )
    assert (await evolution_client.post(f"/webhooks/whatsapp/evolution/{shard.name}", json=body)).status_code == 200
    async with session_factory() as session:
        message = await session.get(Message, message_id)
    assert message is not None and message.status == "delivered"


async def test_a_shared_shard_routes_a_known_number_to_its_tenant(
    evolution_client: httpx.AsyncClient, evolution_shards, session_factory
) -> None:  # type: ignore[no-untyped-def]
    shard = evolution_shards[0]
    first, _ = await _evolution_tenant(session_factory, [shard])
    second, _ = await _evolution_tenant(session_factory, [shard])
    known = fresh_phone_digits()
    lead_id = await add_lead(session_factory, second.id, phone="+" + known)
    url = f"/webhooks/whatsapp/evolution/{shard.name}"
    for sender in (known, fresh_phone_digits()):
        body = _evolution_body(
            "webhook_messages_upsert_text.json", shard, sender=sender, key=shard.api_key, message_id=fresh_wamid()
        )
        assert (await evolution_client.post(url, json=body)).status_code == 200
    assert await _count(session_factory, Message, Message.lead_id == lead_id) == 1
    assert await _count(session_factory, Lead, Lead.tenant_id == first.id, Lead.source == "whatsapp") == 1


async def test_evolution_connection_updates_are_stored_once(
    evolution_client: httpx.AsyncClient, evolution_shards, session_factory
) -> None:  # type: ignore[no-untyped-def]
    _, shard = await _evolution_tenant(session_factory, evolution_shards)
    body = copy.deepcopy(provider_fixture("evolution/webhook_connection_update_open.json"))
    body["instance"] = shard.instance
    body["data"]["instance"] = shard.instance
    body["apikey"] = shard.api_key
    body["date_time"] = datetime.now(tz=UTC).isoformat()
    for _ in range(2):
        assert (await evolution_client.post(f"/webhooks/whatsapp/evolution/{shard.name}", json=body)).status_code == 200
    # The shard may serve other tests' tenants too: find the event by its id, not by tenant.
    event_id = f"connection:{shard.instance}:open:{body['date_time']}"
    assert await _count(session_factory, WebhookEvent, WebhookEvent.provider_event_id == event_id) == 1


async def test_temporal_unreachable_is_acknowledged_and_the_dispatcher_signals_once_it_answers(
    client: httpx.AsyncClient,
    wa_tenant: WhatsAppTenant,
    session_factory,
    temporal_client: Client,
    temporal_signals: SignalSwitch,
) -> None:  # type: ignore[no-untyped-def]
    sender, message_id = fresh_phone_digits(), fresh_wamid()
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=sender, message_id=message_id)
    temporal_signals.fail()
    first = await wa_tenant.post_cloud(client, body)
    assert first.status_code == 200  # stored: the provider need not redeliver
    await eventually(lambda: _inbox_retrying(session_factory, f"message:{message_id}"))
    temporal_signals.restore()
    assert (await wa_tenant.post_cloud(client, body)).status_code == 200  # a redelivery meanwhile changes nothing

    async def handled() -> bool:
        return await _inbox_state(session_factory, f"message:{message_id}") == "done"

    await eventually(handled)
    lead = await _lead_by_phone(session_factory, wa_tenant.id, "+" + sender)
    assert lead is not None
    assert await _count(session_factory, Message, Message.lead_id == lead.id) == 1
    assert await _signals(temporal_client, lead_workflow_id(wa_tenant.slug, str(lead.id))) == 1


async def _inbox_state(session_factory, event_key: str) -> str | None:  # type: ignore[no-untyped-def]
    async with session_factory() as session:
        return await session.scalar(select(WebhookInbox.state).where(WebhookInbox.event_key == event_key))


async def _inbox_retrying(session_factory, event_key: str) -> bool:  # type: ignore[no-untyped-def]
    """The event failed at least once and waits for its retry (not parked: an outage does not count)."""
    async with session_factory() as session:
        row = (await session.execute(select(WebhookInbox).where(WebhookInbox.event_key == event_key))).scalar_one()
    return row.state in ("pending", "processing") and row.last_error is not None


async def test_an_undeliverable_status_after_the_send_is_signalled_to_the_leads_workflow_once(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory, temporal_client: Client
) -> None:  # type: ignore[no-untyped-def]
    sent = await _sent_message(session_factory, wa_tenant)
    sender, lead_id, wamid = sent.sender, sent.lead_id, sent.wamid
    body = wa_tenant.meta_body("webhook_status_failed_131026.json", sender=sender, message_id=wamid)
    for _ in range(2):  # a repeated delivery changes nothing
        assert (await wa_tenant.post_cloud(client, body)).status_code == 200
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead_id))
    assert await _signals(temporal_client, workflow_id, "record_provider_undeliverable") == 1

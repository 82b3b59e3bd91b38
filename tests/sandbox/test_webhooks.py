"""The sandbox delivers correctly formed and signed webhooks to a real receiving server."""

import asyncio

import httpx
import pytest

from providers.whatsapp.base import ErrorKind
from providers.whatsapp.cloud import CloudApiClient
from providers.whatsapp.events import ConnectionUpdate, InboundKind, InboundMessage, MessageStatus, StatusEvent
from providers.whatsapp.evolution import EvolutionApiClient
from providers.whatsapp.evolution_webhook import parse_evolution_webhook
from providers.whatsapp.meta_webhook import parse_meta_webhook
from providers.whatsapp.signatures import SIGNATURE_HEADER, verify_signature
from tests.fixtures.sandbox import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_SECRET,
    SANDBOX_EVOLUTION_KEY,
    WebhookReceiver,
    unique_id,
    unique_phone,
)


async def _inbound(control: httpx.AsyncClient, **body: object) -> dict:
    response = await control.post("/_sandbox/inbound", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def _cloud_account(
    control: httpx.AsyncClient, receiver: WebhookReceiver, access_token: str, app_secret: str
) -> tuple[str, str]:
    """A Cloud API account registered with the sandbox, its webhooks going to the receiver: (phone number id, url)."""
    url = receiver.endpoint("cloud")
    phone_number_id = unique_id("pn")
    account = {"phone_number_id": phone_number_id, "access_token": access_token, "app_secret": app_secret}
    await control.post("/_sandbox/accounts/cloud", json={**account, "webhook_url": url})
    return phone_number_id, url


@pytest.mark.parametrize(("signature", "status_code"), [("valid", 200), ("invalid", 401), ("missing", 401)])
async def test_cloud_inbound_is_signed_over_the_exact_bytes(
    sandbox_control: httpx.AsyncClient, webhook_receiver: WebhookReceiver, signature: str, status_code: int
) -> None:
    url = webhook_receiver.endpoint("cloud")
    sender = unique_phone()

    answer = await _inbound(
        sandbox_control,
        provider="cloud",
        webhook_url=url,
        signature=signature,
        text="Olá, ainda disponível?",
        name="Maria Lopez",
        **{"from": sender},
    )

    [received] = webhook_receiver.at(url)
    assert answer["delivery"]["status_code"] == status_code
    assert received.verified is (signature == "valid")
    assert (SIGNATURE_HEADER.lower() in received.headers) is (signature != "missing")
    assert b"\\u00e1" in received.raw_body  # non-ASCII escaped as Meta sends it, and signed as such
    [event] = parse_meta_webhook(received.json())
    assert isinstance(event, InboundMessage)
    assert (event.from_phone, event.text, event.contact_name, event.provider_message_id) == (
        sender,
        "Olá, ainda disponível?",
        "Maria Lopez",
        answer["message_id"],
    )


async def test_cloud_inbound_kinds_and_replayed_ids(
    sandbox_control: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    url = webhook_receiver.endpoint("cloud")
    sender = unique_phone()
    await _inbound(sandbox_control, webhook_url=url, kind="button", text="Stop promotions", **{"from": sender})
    await _inbound(
        sandbox_control,
        webhook_url=url,
        kind="interactive",
        text="Book a visit",
        payload="book_visit",
        context_message_id="wamid.X",
        **{"from": sender},
    )
    await _inbound(
        sandbox_control, webhook_url=url, kind="reaction", text="👍", context_message_id="wamid.X", **{"from": sender}
    )
    await _inbound(sandbox_control, webhook_url=url, kind="unsupported", **{"from": sender})
    for _ in range(2):
        await _inbound(sandbox_control, webhook_url=url, text="again", message_id="wamid.REPLAYED", **{"from": sender})

    events = [parse_meta_webhook(r.json())[0] for r in webhook_receiver.at(url)]
    assert [(e.kind, e.text, e.payload) for e in events] == [
        (InboundKind.BUTTON, "Stop promotions", "Stop promotions"),
        (InboundKind.INTERACTIVE, "Book a visit", "book_visit"),
        (InboundKind.REACTION, "👍", None),
        (InboundKind.UNSUPPORTED, None, None),
        (InboundKind.TEXT, "again", None),
        (InboundKind.TEXT, "again", None),
    ]
    assert [e.provider_message_id for e in events[-2:]] == ["wamid.REPLAYED", "wamid.REPLAYED"]


@pytest.mark.parametrize(("signature", "verified"), [("valid", True), ("invalid", False), ("missing", False)])
async def test_evolution_inbound_carries_the_instance_key(
    sandbox_control: httpx.AsyncClient, webhook_receiver: WebhookReceiver, signature: str, verified: bool
) -> None:
    url = webhook_receiver.endpoint("evolution")
    sender = unique_phone()
    instance = unique_id("shard")
    await sandbox_control.post(
        "/_sandbox/accounts/evolution",
        json={"instance": instance, "api_key": SANDBOX_EVOLUTION_KEY, "headers": {"x-leadflow-shard-key": "k1"}},
    )

    await _inbound(
        sandbox_control,
        provider="evolution",
        instance=instance,
        webhook_url=url,
        text="oi",
        signature=signature,
        lid=True,
        **{"from": sender},
    )

    [received] = webhook_receiver.at(url)
    assert received.verified is verified
    assert (received.headers.get("x-leadflow-shard-key") == "k1") is verified
    payload = received.json()
    assert (payload["event"], payload["instance"], payload["data"]["key"]["addressingMode"]) == (
        "messages.upsert",
        instance,
        "lid",
    )
    [event] = parse_evolution_webhook(payload)
    assert isinstance(event, InboundMessage)
    assert (event.from_phone, event.text, event.account_id) == (sender, "oi", instance)


async def test_accepted_cloud_sends_get_sent_delivered_read_webhooks(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    phone_number_id, url = await _cloud_account(sandbox_control, webhook_receiver, "tenant-token", "tenant-secret")
    client = CloudApiClient(
        provider_http,
        base_url=sandbox_url,
        graph_version="v23.0",
        phone_number_id=phone_number_id,
        access_token="tenant-token",
    )
    sent = await client.send_text(unique_phone(), "hello")

    received = await webhook_receiver.wait_for(url, 3)

    assert all(verify_signature("tenant-secret", r.raw_body, r.headers[SIGNATURE_HEADER.lower()]) for r in received)
    events = [parse_meta_webhook(r.json())[0] for r in received]
    assert all(isinstance(e, StatusEvent) and e.account_id == phone_number_id for e in events)
    assert [(e.provider_message_id, e.status) for e in events] == [
        (sent.provider_message_id, MessageStatus.SENT),
        (sent.provider_message_id, MessageStatus.DELIVERED),
        (sent.provider_message_id, MessageStatus.READ),
    ]
    # The sandbox records a status once its webhook was answered, which may be just after the receiver saw it.
    for _ in range(50):
        [recorded] = (await sandbox_control.get("/_sandbox/messages", params={"account": phone_number_id})).json()[
            "messages"
        ]
        if len(recorded["statuses"]) == 3:
            break
        await asyncio.sleep(0.1)
    assert recorded["statuses"] == ["sent", "delivered", "read"]


async def test_a_slow_accept_records_the_send_and_echoes_its_callback_data_before_answering(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    # What a caller dying mid-call leaves behind: the message was taken, its statuses carry the callback data.
    phone_number_id, url = await _cloud_account(sandbox_control, webhook_receiver, "t", "s")
    phone = unique_phone()
    fault = await sandbox_control.post(
        "/_sandbox/faults", json={"kind": "slow_accept", "to": phone, "delay_seconds": 5}
    )
    assert fault.status_code == 201, fault.text
    client = CloudApiClient(
        provider_http, base_url=sandbox_url, graph_version="v23.0", phone_number_id=phone_number_id, access_token="t"
    )
    sending = asyncio.create_task(client.send_text(phone, "hello", idempotency_key="lead:x:step-1"))

    received = await webhook_receiver.wait_for(url, 1)
    assert not sending.done()  # the answer is still held back
    sending.cancel()
    [recorded] = (await sandbox_control.get("/_sandbox/messages", params={"to": phone})).json()["messages"]
    assert recorded["callback_data"] == "lead:x:step-1"
    [event] = parse_meta_webhook(received[0].json())
    assert isinstance(event, StatusEvent)
    assert (event.provider_message_id, event.callback_data) == (recorded["id"], "lead:x:step-1")


async def test_accepted_evolution_sends_get_message_updates(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    url = webhook_receiver.endpoint("evolution")
    instance = unique_id("shard")
    await sandbox_control.post(
        "/_sandbox/accounts/evolution",
        json={"instance": instance, "api_key": SANDBOX_EVOLUTION_KEY, "webhook_url": url},
    )
    to = unique_phone()
    sent = await EvolutionApiClient(
        provider_http, base_url=sandbox_url, instance=instance, api_key=SANDBOX_EVOLUTION_KEY
    ).send_text(to, "hello")

    received = await webhook_receiver.wait_for(url, 3)

    assert [r.json()["data"]["status"] for r in received] == ["SERVER_ACK", "DELIVERY_ACK", "READ"]
    events = [parse_evolution_webhook(r.json())[0] for r in received]
    assert [(e.provider_message_id, e.status, e.recipient_phone) for e in events] == [
        (sent.provider_message_id, MessageStatus.SENT, to),
        (sent.provider_message_id, MessageStatus.DELIVERED, to),
        (sent.provider_message_id, MessageStatus.READ, to),
    ]


async def test_deferred_error_fault_accepts_then_fails_by_webhook(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    phone_number_id, url = await _cloud_account(
        sandbox_control, webhook_receiver, SANDBOX_ACCESS_TOKEN, SANDBOX_APP_SECRET
    )
    to = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "error_131050", "to": to, "deferred": True})
    client = CloudApiClient(
        provider_http,
        base_url=sandbox_url,
        graph_version="v23.0",
        phone_number_id=phone_number_id,
        access_token=SANDBOX_ACCESS_TOKEN,
    )

    sent = await client.send_template(to, "promo", "en_US")
    received = await webhook_receiver.wait_for(url, 2)

    events = [parse_meta_webhook(r.json())[0] for r in received]
    assert [e.status for e in events] == [MessageStatus.SENT, MessageStatus.FAILED]
    failed = events[-1]
    assert isinstance(failed, StatusEvent)
    assert (failed.provider_message_id, failed.error_code, failed.error_kind) == (
        sent.provider_message_id,
        "131050",
        ErrorKind.OPTED_OUT,
    )


async def test_dropped_webhooks_are_logged_not_delivered(
    sandbox_control: httpx.AsyncClient, webhook_receiver: WebhookReceiver
) -> None:
    url = webhook_receiver.endpoint("cloud")
    sender = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "drop_webhooks", "to": sender, "count": 2})

    answers = [await _inbound(sandbox_control, webhook_url=url, text=f"m{i}", **{"from": sender}) for i in range(3)]

    assert [a["delivery"]["dropped"] for a in answers] == [True, True, False]
    assert [parse_meta_webhook(r.json())[0].text for r in webhook_receiver.at(url)] == ["m2"]
    log = (await sandbox_control.get("/_sandbox/webhooks", params={"phone": sender})).json()["webhooks"]
    assert [(w["dropped"], w["status_code"]) for w in log] == [(True, None), (True, None), (False, 200)]


async def test_manual_status_and_connection_updates(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    await sandbox_control.post("/_sandbox/config", json={"auto_status": False})
    try:
        sent = await CloudApiClient(
            provider_http,
            base_url=sandbox_url,
            graph_version="v23.0",
            phone_number_id=unique_id("pn"),
            access_token=SANDBOX_ACCESS_TOKEN,
        ).send_text(unique_phone(), "hello")
    finally:
        await sandbox_control.post("/_sandbox/config", json={"auto_status": True})
    url = webhook_receiver.endpoint("cloud")
    answer = await sandbox_control.post(
        "/_sandbox/status",
        json={"message_id": sent.provider_message_id, "status": "failed", "error_code": 131026, "webhook_url": url},
    )
    assert answer.json()["delivery"]["status_code"] == 200
    [event] = parse_meta_webhook(webhook_receiver.at(url)[0].json())
    assert isinstance(event, StatusEvent)
    assert (event.status, event.error_kind) == (MessageStatus.FAILED, ErrorKind.UNDELIVERABLE)
    unknown = await sandbox_control.post("/_sandbox/status", json={"message_id": "wamid.nope", "status": "read"})
    assert unknown.status_code == 404

    evolution_url = webhook_receiver.endpoint("evolution")
    await sandbox_control.post(
        "/_sandbox/connection",
        json={"instance": "acme-shard-01", "state": "close", "status_reason": 401, "webhook_url": evolution_url},
    )
    [update] = parse_evolution_webhook(webhook_receiver.at(evolution_url)[0].json())
    assert isinstance(update, ConnectionUpdate)
    assert (update.account_id, update.state, update.status_reason) == ("acme-shard-01", "close", 401)


async def test_inbound_without_any_webhook_url_is_refused(sandbox_control: httpx.AsyncClient) -> None:
    response = await sandbox_control.post(
        "/_sandbox/inbound", json={"from": unique_phone(), "text": "hi", "phone_number_id": unique_id("pn")}
    )
    assert response.status_code == 422
    assert "webhook" in response.json()["detail"]

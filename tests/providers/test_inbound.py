"""Every webhook fixture of Meta and Evolution parses into the normalised events a workflow needs."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.whatsapp.base import ErrorKind
from providers.whatsapp.events import ConnectionUpdate, InboundKind, InboundMessage, MessageStatus, StatusEvent
from providers.whatsapp.evolution_webhook import parse_evolution_webhook
from providers.whatsapp.meta_webhook import parse_meta_webhook
from providers.whatsapp.payload import WebhookPayloadError
from tests.fixtures.sandbox import load_fixture

TESTED_WEBHOOK_FIXTURES = {
    "meta/webhook_batched_two_messages.json",
    "meta/webhook_inbound_interactive_button_reply.json",
    "meta/webhook_inbound_reaction.json",
    "meta/webhook_inbound_template_quick_reply_button.json",
    "meta/webhook_inbound_text.json",
    "meta/webhook_inbound_unsupported.json",
    "meta/webhook_status_delivered.json",
    "meta/webhook_status_failed_131026.json",
    "meta/webhook_status_failed_131050.json",
    "meta/webhook_status_read.json",
    "meta/webhook_status_sent.json",
    "evolution/webhook_connection_update_close.json",
    "evolution/webhook_connection_update_open.json",
    "evolution/webhook_messages_update_delivered.json",
    "evolution/webhook_messages_update_read.json",
    "evolution/webhook_messages_upsert_text.json",
    "evolution/webhook_messages_upsert_text_lid.json",
}
NOT_PAYLOADS = {"meta/webhook_verification_get.json", "evolution/webhook_set_request.json"}


def test_every_webhook_fixture_is_tested_here(provider_fixtures: Path) -> None:
    on_disk = {
        f"{path.parent.name}/{path.name}"
        for provider in ("meta", "evolution")
        for path in (provider_fixtures / provider).glob("webhook_*.json")
    }
    assert on_disk - NOT_PAYLOADS == TESTED_WEBHOOK_FIXTURES


def _one(events: list, kind: type) -> object:
    assert len(events) == 1
    assert isinstance(events[0], kind)
    return events[0]


@pytest.mark.parametrize(
    ("parse", "fixture", "provider", "account_id", "message_id"),
    [
        (
            parse_meta_webhook,
            "meta/webhook_inbound_text.json",
            "cloud",
            "109876543210987",
            "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQTFGOUMyRTdCNDREMDVBODFFNgA=",
        ),
        (
            parse_evolution_webhook,
            "evolution/webhook_messages_upsert_text.json",
            "evolution",
            "acme-shard-01",
            "A0C6F29B3E8D17D45B9E2C07F1A34E68",
        ),
    ],
    ids=["meta", "evolution_phone_addressed"],
)
def test_an_inbound_text(
    parse: Callable[[dict], list], fixture: str, provider: str, account_id: str, message_id: str
) -> None:
    event = _one(parse(load_fixture(fixture)), InboundMessage)
    assert event == InboundMessage(
        provider=provider,
        account_id=account_id,
        provider_message_id=message_id,
        from_phone="+14155550123",
        kind=InboundKind.TEXT,
        text="Hi! Is the Oak Street apartment still available?",
        timestamp=datetime.fromtimestamp(1764150060, tz=UTC),
        contact_name="Maria Lopez",
    )


def test_meta_batched_messages_keep_order_and_each_sender_name() -> None:
    events = parse_meta_webhook(load_fixture("meta/webhook_batched_two_messages.json"))
    assert [(e.from_phone, e.contact_name, e.text) for e in events if isinstance(e, InboundMessage)] == [
        ("+14155550123", "Maria Lopez", "Can we do Thursday at 5pm?"),
        ("+14155550147", "Dev Patel", "Hello, I saw your ad on Facebook"),
    ]
    assert len({e.provider_message_id for e in events if isinstance(e, InboundMessage)}) == 2


def test_meta_interactive_button_reply() -> None:
    event = _one(parse_meta_webhook(load_fixture("meta/webhook_inbound_interactive_button_reply.json")), InboundMessage)
    assert (event.kind, event.text, event.payload) == (InboundKind.INTERACTIVE, "Book a visit", "book_visit")
    assert event.context_message_id == "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI1RjBDMkI5QTQxRDdFM0E2QzgA"


def test_meta_template_quick_reply_button() -> None:
    event = _one(
        parse_meta_webhook(load_fixture("meta/webhook_inbound_template_quick_reply_button.json")), InboundMessage
    )
    assert (event.kind, event.text, event.payload) == (InboundKind.BUTTON, "Stop promotions", "Stop promotions")
    assert event.context_message_id == "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBJBM0Q5MUU3QzA1QjI0RjY4RDEA"


def test_meta_reaction_and_its_removal() -> None:
    payload = load_fixture("meta/webhook_inbound_reaction.json")
    event = _one(parse_meta_webhook(payload), InboundMessage)
    assert (event.kind, event.text) == (InboundKind.REACTION, "👍")
    assert event.context_message_id == "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI1RjBDMkI5QTQxRDdFM0E2QzgA"

    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"]
    removed = _one(parse_meta_webhook(payload), InboundMessage)
    assert (removed.kind, removed.text) == (InboundKind.REACTION, None)


def test_meta_unsupported() -> None:
    event = _one(parse_meta_webhook(load_fixture("meta/webhook_inbound_unsupported.json")), InboundMessage)
    assert (event.kind, event.unsupported_type, event.from_phone) == (
        InboundKind.UNSUPPORTED,
        "poll_creation",
        "+14155550147",
    )
    assert event.contact_name == "Dev Patel"


@pytest.mark.parametrize(
    ("fixture", "status", "timestamp"),
    [
        ("meta/webhook_status_sent.json", MessageStatus.SENT, 1764150002),
        ("meta/webhook_status_delivered.json", MessageStatus.DELIVERED, 1764150004),
        ("meta/webhook_status_read.json", MessageStatus.READ, 1764150095),
    ],
)
def test_meta_statuses_with_and_without_pricing(fixture: str, status: MessageStatus, timestamp: int) -> None:
    event = _one(parse_meta_webhook(load_fixture(fixture)), StatusEvent)
    assert event == StatusEvent(
        provider="cloud",
        account_id="109876543210987",
        provider_message_id="wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI1RjBDMkI5QTQxRDdFM0E2QzgA",
        recipient_phone="+14155550123",
        status=status,
        timestamp=datetime.fromtimestamp(timestamp, tz=UTC),
    )


def test_meta_status_in_the_older_conversation_form() -> None:
    payload = load_fixture("meta/webhook_status_sent.json")
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["conversation"] = {"id": "c1", "expiration_timestamp": "1764236400", "origin": {"type": "service"}}
    status["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    assert _one(parse_meta_webhook(payload), StatusEvent).status == MessageStatus.SENT


@pytest.mark.parametrize(
    ("fixture", "code", "kind"),
    [
        ("meta/webhook_status_failed_131026.json", "131026", ErrorKind.UNDELIVERABLE),
        ("meta/webhook_status_failed_131050.json", "131050", ErrorKind.OPTED_OUT),
    ],
)
def test_meta_failed_statuses_carry_their_code_and_kind(fixture: str, code: str, kind: ErrorKind) -> None:
    event = _one(parse_meta_webhook(load_fixture(fixture)), StatusEvent)
    assert (event.status, event.error_code, event.error_kind) == (MessageStatus.FAILED, code, kind)
    assert event.error_title


def test_meta_other_fields_are_skipped_and_garbage_is_refused() -> None:
    payload = load_fixture("meta/webhook_inbound_text.json")
    payload["entry"][0]["changes"][0]["field"] = "message_template_status_update"
    assert parse_meta_webhook(payload) == []

    with pytest.raises(WebhookPayloadError):
        parse_meta_webhook({"object": "page", "entry": []})
    with pytest.raises(WebhookPayloadError):
        parse_meta_webhook(["not", "an", "object"])
    broken = load_fixture("meta/webhook_inbound_text.json")
    del broken["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    with pytest.raises(WebhookPayloadError):
        parse_meta_webhook(broken)


def test_evolution_upsert_lid_addressed_takes_the_phone_from_remote_jid_alt() -> None:
    event = _one(
        parse_evolution_webhook(load_fixture("evolution/webhook_messages_upsert_text_lid.json")), InboundMessage
    )
    assert (event.from_phone, event.provider_message_id, event.text) == (
        "+14155550123",
        "3A5C0E9F7B21D84A6C3E",
        "Thursday works for me",
    )


def test_evolution_upsert_variants_own_sends_and_groups() -> None:
    payload = load_fixture("evolution/webhook_messages_upsert_text.json")
    payload["event"] = "MESSAGES_UPSERT"
    payload["data"]["message"] = {"extendedTextMessage": {"text": "older shape"}}
    payload["data"]["messageType"] = "extendedTextMessage"
    payload["data"]["messageTimestamp"] = "1764150060"
    event = _one(parse_evolution_webhook(payload), InboundMessage)
    assert (event.text, event.timestamp) == ("older shape", datetime.fromtimestamp(1764150060, tz=UTC))

    payload["data"]["message"] = {"imageMessage": {"url": "x"}}
    payload["data"]["messageType"] = "imageMessage"
    assert _one(parse_evolution_webhook(payload), InboundMessage).unsupported_type == "imageMessage"

    payload["data"]["key"]["fromMe"] = True
    assert parse_evolution_webhook(payload) == []

    group = load_fixture("evolution/webhook_messages_upsert_text.json")
    group["data"]["key"]["remoteJid"] = "120363025246125244@g.us"
    group["data"]["key"].pop("remoteJidAlt")
    assert parse_evolution_webhook(group) == []


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("evolution/webhook_messages_update_delivered.json", MessageStatus.DELIVERED),
        ("evolution/webhook_messages_update_read.json", MessageStatus.READ),
    ],
)
def test_evolution_message_updates(fixture: str, status: MessageStatus) -> None:
    payload = load_fixture(fixture)
    event = _one(parse_evolution_webhook(payload), StatusEvent)
    assert (event.provider_message_id, event.status, event.recipient_phone, event.account_id) == (
        "3EB0A7C94D12F08B6E35C1",
        status,
        "+14155550123",
        "acme-shard-01",
    )
    expected = datetime.fromisoformat(payload["date_time"].replace("Z", "+00:00")).replace(microsecond=0)
    assert event.timestamp == expected


def test_evolution_pending_and_deleted_updates_are_skipped() -> None:
    payload = load_fixture("evolution/webhook_messages_update_delivered.json")
    for status in ("PENDING", "DELETED"):
        payload["data"]["status"] = status
        assert parse_evolution_webhook(payload) == []


def test_evolution_connection_open_and_close() -> None:
    opened = _one(
        parse_evolution_webhook(load_fixture("evolution/webhook_connection_update_open.json")), ConnectionUpdate
    )
    assert (opened.account_id, opened.state, opened.status_reason, opened.phone) == (
        "acme-shard-01",
        "open",
        200,
        "+14155550100",
    )
    closed = _one(
        parse_evolution_webhook(load_fixture("evolution/webhook_connection_update_close.json")), ConnectionUpdate
    )
    assert (closed.state, closed.status_reason, closed.phone) == ("close", 401, None)


def test_evolution_garbage_is_refused() -> None:
    with pytest.raises(WebhookPayloadError):
        parse_evolution_webhook({"data": {}})
    payload = load_fixture("evolution/webhook_messages_upsert_text.json")
    del payload["data"]["key"]["id"]
    with pytest.raises(WebhookPayloadError):
        parse_evolution_webhook(payload)

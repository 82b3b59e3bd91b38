"""The Evolution API client against the sandbox over real HTTP."""

import json

import httpx
import pytest

from providers.whatsapp.base import (
    ErrorKind,
    ProviderAuthError,
    ProviderConfigError,
    RetryableSendError,
    UndeliverableError,
    WhatsAppProvider,
)
from providers.whatsapp.evolution import EvolutionApiClient
from tests.fixtures.sandbox import SANDBOX_EVOLUTION_KEY, WebhookReceiver, load_fixture, unique_id, unique_phone


@pytest.fixture
def instance() -> str:
    return unique_id("shard")


def _client(
    http: httpx.AsyncClient,
    base_url: str,
    instance: str,
    key: str = SANDBOX_EVOLUTION_KEY,
    timeout: float | None = None,
) -> EvolutionApiClient:
    return EvolutionApiClient(http, base_url=base_url, instance=instance, api_key=key, timeout_seconds=timeout)


async def _recorded(control: httpx.AsyncClient, instance: str) -> list[dict]:
    return (await control.get("/_sandbox/messages", params={"account": instance})).json()["messages"]


async def test_send_text_posts_the_evolution_body_and_returns_the_key_id(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str
) -> None:
    fixture = load_fixture("evolution/send_text_request.json")
    client = _client(provider_http, sandbox_url, instance)
    assert isinstance(client, WhatsAppProvider)

    sent = await client.send_text("+14155550123", fixture["text"], idempotency_key="k-1")

    [recorded] = await _recorded(sandbox_control, instance)
    assert recorded["request_body"] == fixture
    assert (recorded["id"], recorded["to"], recorded["idempotency_key"]) == (
        sent.provider_message_id,
        "+14155550123",
        "k-1",
    )
    assert sent.provider_message_id.startswith("3EB0") and len(sent.provider_message_id) == 22
    assert (sent.provider, sent.recipient) == ("evolution", "14155550123")


async def test_instance_token_is_accepted_and_a_wrong_key_is_an_auth_error(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str
) -> None:
    registered = await sandbox_control.post(
        "/_sandbox/accounts/evolution", json={"instance": instance, "api_key": "INSTANCE-TOKEN"}
    )
    assert registered.status_code == 201
    await _client(provider_http, sandbox_url, instance, key="INSTANCE-TOKEN").send_text(unique_phone(), "hi")

    with pytest.raises(ProviderAuthError) as raised:
        await _client(provider_http, sandbox_url, instance, key="wrong").send_text(unique_phone(), "hi")
    assert (raised.value.http_status, raised.value.code, raised.value.retryable) == (401, "unauthorized", False)
    assert len(await _recorded(sandbox_control, instance)) == 1


@pytest.mark.parametrize("fault", ["not_on_whatsapp", "error_131026"])
async def test_number_not_on_whatsapp_is_undeliverable(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str, fault: str
) -> None:
    to = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": fault, "to": to})
    with pytest.raises(UndeliverableError) as raised:
        await _client(provider_http, sandbox_url, instance).send_text(to, "hi")
    assert (raised.value.code, raised.value.http_status) == ("number_not_on_whatsapp", 400)
    assert await _recorded(sandbox_control, instance) == []


async def test_429_then_success_and_500_are_retryable(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str
) -> None:
    to = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "http_429", "to": to, "provider": "evolution"})
    await sandbox_control.post("/_sandbox/faults", json={"kind": "http_500", "to": to, "provider": "evolution"})
    client = _client(provider_http, sandbox_url, instance)

    for status in (429, 500):
        with pytest.raises(RetryableSendError) as raised:
            await client.send_text(to, "hi")
        assert raised.value.http_status == status
    sent = await client.send_text(to, "hi")
    assert [m["id"] for m in await _recorded(sandbox_control, instance)] == [sent.provider_message_id]


async def test_meta_only_faults_do_not_touch_evolution_sends(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str
) -> None:
    to = unique_phone()
    fault = (await sandbox_control.post("/_sandbox/faults", json={"kind": "error_131047", "to": to})).json()
    await _client(provider_http, sandbox_url, instance).send_text(to, "hi")
    pending = (await sandbox_control.get("/_sandbox/faults")).json()["faults"]
    assert [f["kind"] for f in pending if f["to"] == to] == ["error_131047"]
    assert (await sandbox_control.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 204
    assert (await sandbox_control.delete(f"/_sandbox/faults/{fault['id']}")).status_code == 404


async def test_timeout_is_retryable(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient, instance: str
) -> None:
    to = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "timeout", "to": to, "delay_seconds": 1})
    with pytest.raises(RetryableSendError) as raised:
        await _client(provider_http, sandbox_url, instance, timeout=0.3).send_text(to, "hi")
    assert raised.value.code == "timeout"


async def test_templates_are_refused_without_a_request(provider_http: httpx.AsyncClient, instance: str) -> None:
    client = _client(provider_http, "http://127.0.0.1:9", instance)  # nothing listens: no request may be made
    assert client.supports_templates is False
    with pytest.raises(ProviderConfigError) as raised:
        await client.send_template(unique_phone(), "lead_followup_v2", "en_US", ["Maria"])
    assert (raised.value.kind, raised.value.code) == (ErrorKind.CONFIG, "templates_unsupported")


async def test_set_webhook_routes_later_webhooks_with_the_custom_headers(
    provider_http: httpx.AsyncClient,
    sandbox_url: str,
    sandbox_control: httpx.AsyncClient,
    webhook_receiver: WebhookReceiver,
    instance: str,
) -> None:
    fixture = load_fixture("evolution/webhook_set_request.json")["webhook"]
    url = webhook_receiver.endpoint("evolution")
    client = _client(provider_http, sandbox_url, instance)

    await client.set_webhook(url, headers=fixture["headers"], events=fixture["events"])
    await _client(provider_http, sandbox_url, instance).send_text(unique_phone(), "hi")

    received = await webhook_receiver.wait_for(url, 3)
    assert [r.json()["data"]["status"] for r in received] == ["SERVER_ACK", "DELIVERY_ACK", "READ"]
    assert all(r.headers["x-leadflow-shard-key"] == fixture["headers"]["x-leadflow-shard-key"] for r in received)
    with pytest.raises(ProviderAuthError):
        await _client(provider_http, sandbox_url, instance, key="wrong").set_webhook(url)


async def test_set_webhook_body_is_the_fixture_body() -> None:
    fixture = load_fixture("evolution/webhook_set_request.json")
    captured: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(201, json={"id": "w1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = _client(http, "http://evolution.test", "acme-shard-01")
        webhook = fixture["webhook"]
        await client.set_webhook(webhook["url"], headers=webhook["headers"], events=webhook["events"])

    [request] = captured
    assert (request.method, str(request.url)) == ("POST", "http://evolution.test/webhook/set/acme-shard-01")
    assert request.headers["apikey"] == SANDBOX_EVOLUTION_KEY
    assert json.loads(request.content) == fixture

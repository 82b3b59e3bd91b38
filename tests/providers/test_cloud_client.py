"""The Cloud API client against the sandbox over real HTTP: exact bodies, ids, and every error classified."""

from collections.abc import Callable

import httpx
import pytest

from core.config import Settings
from providers.whatsapp.base import (
    ErrorKind,
    ProviderAuthError,
    ProviderConfigError,
    RetryableSendError,
    WhatsAppProvider,
    WhatsAppSendError,
)
from providers.whatsapp.cloud import CloudApiClient
from providers.whatsapp.factory import WhatsAppAccount, create_provider
from tests.fixtures.sandbox import SANDBOX_ACCESS_TOKEN, load_fixture, unique_id, unique_phone

MakeClient = Callable[..., CloudApiClient]


@pytest.fixture
def phone_number_id() -> str:
    return unique_id("pn")


@pytest.fixture
def make_cloud(provider_http: httpx.AsyncClient, sandbox_url: str, phone_number_id: str) -> MakeClient:
    def make(token: str = SANDBOX_ACCESS_TOKEN, timeout: float | None = None) -> CloudApiClient:
        return CloudApiClient(
            provider_http,
            base_url=sandbox_url,
            graph_version="v23.0",
            phone_number_id=phone_number_id,
            access_token=token,
            timeout_seconds=timeout,
        )

    return make


async def _recorded(control: httpx.AsyncClient, phone_number_id: str) -> list[dict]:
    response = await control.get("/_sandbox/messages", params={"account": phone_number_id})
    return response.json()["messages"]


async def _fault(control: httpx.AsyncClient, **fault: object) -> None:
    response = await control.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


async def test_send_text_posts_the_graph_body_and_returns_the_wamid(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    fixture = load_fixture("meta/send_text_request.json")
    client = make_cloud()
    assert isinstance(client, WhatsAppProvider)

    sent = await client.send_text(fixture["to"], fixture["text"]["body"], idempotency_key="lead-1/step-2")

    [recorded] = await _recorded(sandbox_control, phone_number_id)
    # The fixture's body plus the idempotency key as Meta's callback data, echoed in the status webhooks.
    assert recorded["request_body"] == {**fixture, "biz_opaque_callback_data": "lead-1/step-2"}
    assert (recorded["id"], recorded["to"], recorded["type"]) == (sent.provider_message_id, "+14155550123", "text")
    assert recorded["idempotency_key"] == "lead-1/step-2"
    assert sent.provider_message_id.startswith("wamid.")
    assert (sent.provider, sent.recipient) == ("cloud", "14155550123")


async def test_send_template_posts_the_graph_body(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    fixture = load_fixture("meta/send_template_request.json")
    template = fixture["template"]
    values = [p["text"] for p in template["components"][0]["parameters"]]

    sent = await make_cloud().send_template(
        fixture["to"], template["name"], template["language"]["code"], values, idempotency_key="lead-1/step-3"
    )

    [recorded] = await _recorded(sandbox_control, phone_number_id)
    assert recorded["request_body"] == {**fixture, "biz_opaque_callback_data": "lead-1/step-3"}
    assert recorded["template"] == {"name": "lead_followup_v2", "language": "en_US", "parameters": values}
    assert recorded["id"] == sent.provider_message_id


async def test_template_without_parameters_has_no_components(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    await make_cloud().send_template(unique_phone(), "hello_world", "en_US")
    [recorded] = await _recorded(sandbox_control, phone_number_id)
    assert recorded["request_body"]["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


async def test_429_then_200_is_retryable_and_delivers_exactly_once(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    to = unique_phone()
    await _fault(sandbox_control, kind="http_429", to=to)
    client = make_cloud()

    with pytest.raises(RetryableSendError) as raised:
        await client.send_text(to, "hello")
    assert (raised.value.kind, raised.value.http_status, raised.value.code) == (ErrorKind.RETRYABLE, 429, "130429")
    assert raised.value.retry_after_seconds == 1.0
    assert await _recorded(sandbox_control, phone_number_id) == []

    sent = await client.send_text(to, "hello")
    assert [m["id"] for m in await _recorded(sandbox_control, phone_number_id)] == [sent.provider_message_id]


async def test_500_is_retryable(make_cloud: MakeClient, sandbox_control: httpx.AsyncClient) -> None:
    to = unique_phone()
    await _fault(sandbox_control, kind="http_500", to=to)
    with pytest.raises(RetryableSendError) as raised:
        await make_cloud().send_text(to, "hello")
    assert raised.value.http_status == 500


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        ("error_131047", ErrorKind.WINDOW_CLOSED, "131047"),
        ("error_131050", ErrorKind.OPTED_OUT, "131050"),
        ("error_131026", ErrorKind.UNDELIVERABLE, "131026"),
        ("error_130429", ErrorKind.RETRYABLE, "130429"),
        ("error_131056", ErrorKind.RETRYABLE, "131056"),
    ],
)
async def test_meta_error_codes_are_classified(
    make_cloud: MakeClient,
    sandbox_control: httpx.AsyncClient,
    phone_number_id: str,
    fault: str,
    kind: ErrorKind,
    code: str,
) -> None:
    to = unique_phone()
    await _fault(sandbox_control, kind=fault, to=to)
    with pytest.raises(WhatsAppSendError) as raised:
        await make_cloud().send_text(to, "hello")
    assert (raised.value.kind, raised.value.code, raised.value.http_status) == (kind, code, 400)
    assert await _recorded(sandbox_control, phone_number_id) == []


async def test_wrong_token_is_an_auth_error(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    with pytest.raises(ProviderAuthError) as raised:
        await make_cloud(token="not-the-token").send_text(unique_phone(), "hello")
    assert (raised.value.code, raised.value.http_status, raised.value.retryable) == ("190", 401, False)
    assert await _recorded(sandbox_control, phone_number_id) == []


async def test_timeout_is_retryable(
    make_cloud: MakeClient, sandbox_control: httpx.AsyncClient, phone_number_id: str
) -> None:
    to = unique_phone()
    await _fault(sandbox_control, kind="timeout", to=to, delay_seconds=1)
    with pytest.raises(RetryableSendError) as raised:
        await make_cloud(timeout=0.3).send_text(to, "hello")
    assert raised.value.code == "timeout"
    assert await _recorded(sandbox_control, phone_number_id) == []


async def test_unreachable_provider_is_retryable(provider_http: httpx.AsyncClient) -> None:
    client = CloudApiClient(
        provider_http, base_url="http://127.0.0.1:9", graph_version="v23.0", phone_number_id="1", access_token="t"
    )
    with pytest.raises(RetryableSendError) as raised:
        await client.send_text(unique_phone(), "hello")
    assert raised.value.code == "connection_error"


async def test_invalid_recipient_is_a_config_error(make_cloud: MakeClient) -> None:
    with pytest.raises(ProviderConfigError) as raised:
        await make_cloud().send_text("not-a-number", "hello")
    assert (raised.value.code, raised.value.http_status) == ("100", 400)


async def test_sandbox_account_from_the_factory_reaches_the_sandbox(
    provider_http: httpx.AsyncClient, sandbox_url: str, sandbox_control: httpx.AsyncClient
) -> None:
    settings = Settings(sandbox_base_url=sandbox_url, whatsapp_sandbox_access_token=SANDBOX_ACCESS_TOKEN)
    phone_number_id = unique_id("pn")
    provider = create_provider(
        provider_http, WhatsAppAccount(provider="sandbox", phone_number_id=phone_number_id), settings
    )
    sent = await provider.send_text(unique_phone(), "from the factory")
    assert (provider.name, provider.supports_templates) == ("sandbox", True)
    assert [m["id"] for m in await _recorded(sandbox_control, phone_number_id)] == [sent.provider_message_id]

    with pytest.raises(ProviderConfigError):
        create_provider(provider_http, WhatsAppAccount(provider="cloud"), settings)
    with pytest.raises(ProviderConfigError):
        create_provider(provider_http, WhatsAppAccount(provider="evolution", instance="x"), settings)

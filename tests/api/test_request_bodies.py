"""What every request body gets, whichever endpoint takes it: unknown fields and NUL characters are a 422 naming the
field, a body over the size limit is a 413 before it is parsed, and a value the database would refuse anyway is the
caller's 422, never a 500 or a 503 that invites a retry which cannot succeed."""

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.app import create_app
from api.body_limit import BodyLimitMiddleware, BodyTooLarge
from api.schemas.nul import NulFreeModel
from core.config import Settings
from tests.api.test_telephony_account import account_body
from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import create_sequence

LEADS = "/api/v1/leads"
# Credentials are compared as typed (never trimmed, never stored as given): their own rules, tested in test_auth.
NOT_STORED = {"LoginRequest", "PasswordChange"}


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        else:
            inner = getattr(route, "original_router", None) or getattr(route, "router", None)
            yield from _routes(getattr(inner, "routes", []))


def _body_models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for route in _routes(create_app(Settings()).routes):
        for param in route.dependant.body_params:
            annotation = param.field_info.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    models[f"{sorted(route.methods)[0]} {route.path} {candidate.__name__}"] = candidate
    return models


def test_every_json_body_refuses_unknown_fields_and_nul_characters() -> None:
    models = _body_models()
    assert len(models) > 25  # the walk found the API's routes
    loose = [
        name
        for name, model in models.items()
        if model.__name__ not in NOT_STORED
        and not (issubclass(model, NulFreeModel) and model.model_config.get("extra") == "forbid")
    ]
    assert loose == []


async def test_a_nul_in_a_nested_setting_is_a_422_naming_the_setting(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    body = account_body(voice_script={"opening": "Hello\u0000"})
    response = await client.put("/api/v1/telephony/account", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "voice_script"
    assert (await client.get("/api/v1/telephony/account", headers=tenant.headers())).status_code == 404


# Size --------------------------------------------------------------------------------------------------------------


@pytest.fixture
async def small_limit_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 4 KiB body limit: what a body over the limit gets, without sending megabytes."""
    app: FastAPI = create_app(settings.model_copy(update={"api_max_body_bytes": 4096}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_a_body_over_the_limit_is_a_413_before_anything_is_read(
    small_limit_client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    big = {"phone": "+12025550150", "custom_fields": {"notes": "y" * 5000}}
    response = await small_limit_client.post(LEADS, json=big, headers=tenant.headers())
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    assert response.json()["details"] == {"max_bytes": 4096}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: cut off once past the limit
        yield b'{"phone": "+12025550150", "name": "'
        for _ in range(10):
            yield b"z" * 1000
        yield b'"}'

    chunked = await small_limit_client.post(
        LEADS, content=chunks(), headers={**tenant.headers(), "Content-Type": "application/json"}
    )
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["error"] == "payload_too_large"
    assert chunked.json()["details"] == {"max_bytes": 4096}
    # Calling a body an upload does not buy the CSV import's larger limit on another route.
    upload = await small_limit_client.post(
        LEADS, files={"file": ("leads.csv", b"phone\n" + b"1" * 5000)}, headers=tenant.headers()
    )
    assert upload.status_code == 413, upload.text


async def test_custom_fields_stay_small_and_the_default_limit_lets_ordinary_bodies_through(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    too_much = {"phone": "+12025550151", "custom_fields": {"notes": "y" * 20_000}}
    response = await client.post(LEADS, json=too_much, headers=tenant.headers())
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "custom_fields"
    fits = {"phone": "+12025550151", "custom_fields": {"notes": "y" * 10_000}}
    assert (await client.post(LEADS, json=fits, headers=tenant.headers())).status_code == 201


async def test_a_value_the_database_refuses_is_422_without_sql(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    """The safety net behind validation: a value PostgreSQL refuses (NaN is not JSON to jsonb) is the caller's 422."""
    body = b'{"phone": "+12025550152", "custom_fields": {"score": NaN}}'
    response = await client.post(LEADS, content=body, headers={**tenant.headers(), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_value"
    for leak in ("INSERT", "jsonb", "psycopg", "0152"):
        assert leak not in response.text
    listed = await client.get(LEADS, params={"q": "+12025550152"}, headers=tenant.headers())
    assert listed.json()["items"] == []


# Values that cannot be right ---------------------------------------------------------------------------------------


async def test_a_message_with_both_a_text_and_a_template_is_a_422(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    response = await client.post(
        f"{LEADS}/{uuid.uuid4()}/messages", json={"text": "x", "template": "y"}, headers=tenant.headers("agent")
    )
    assert response.status_code == 422, response.text
    assert "not both" in response.json()["message"]


@pytest.mark.parametrize("base_url", ["http://", "https:///v1", "ftp://example.com"])
async def test_an_ai_base_url_without_a_host_is_a_422(
    client: httpx.AsyncClient, tenant: TenantContext, base_url: str
) -> None:
    response = await client.put(
        "/api/v1/ai/agent", json={"mode": "auto", "base_url": base_url}, headers=tenant.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "base_url"


async def test_handing_a_conversation_to_nobody_names_the_choices_plainly(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    response = await client.put(
        f"/api/v1/ai/leads/{uuid.uuid4()}/handler", json={"handler": "unassigned"}, headers=tenant.headers("agent")
    )
    assert response.status_code == 422, response.text
    assert "ConversationHandler" not in response.text and "'ai'" in response.text


async def test_a_version_number_past_any_stored_one_is_a_422_naming_it(
    client: httpx.AsyncClient, tenant: TenantContext
) -> None:
    sequence = await create_sequence(client, tenant, publish=True)
    path = f"/api/v1/sequences/{sequence['id']}"
    for version in ("2147483648", "99999999999999999999"):
        response = await client.get(f"{path}/versions/{version}", headers=tenant.headers())
        assert response.status_code == 422, response.text
        assert response.json()["details"][0]["field"] == "version"
    preview = await client.post(
        f"{path}/preview", json={"phone": "+14155550123", "version": 2**63}, headers=tenant.headers()
    )
    assert preview.status_code == 422, preview.text
    assert preview.json()["details"][0]["field"] == "version"
    assert (await client.get(f"{path}/versions/1", headers=tenant.headers())).status_code == 200


async def _through_the_limit(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, list]:
    """Send `chunks` as one request through the body limit in front of `app`; (chunks left unread, messages sent)."""
    pending = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ]
    sent: list = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": LEADS, "headers": headers}
    await BodyLimitMiddleware(app, max_json_bytes=4096, max_upload_bytes=8192)(scope, receive, send)
    return len(pending), sent


async def test_a_refused_body_is_read_to_its_end_so_the_sender_hears_the_413() -> None:
    """A server that answers while the client still sends, then closes, shows most clients a connection reset
    instead of the 413: the rest of the body is read and dropped first."""

    async def never_called(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a declared body over the limit never reaches the app")

    chunks = [b"x" * 3000] * 4
    left, sent = await _through_the_limit(never_called, chunks, [(b"content-length", b"12000")])
    assert left == 0
    assert sent[0]["status"] == 413

    async def reads_the_body(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except BodyTooLarge as exc:  # as the app's error handler answers it
            await send({"type": "http.response.start", "status": exc.status_code, "headers": []})

    left, sent = await _through_the_limit(reads_the_body, chunks, [])
    assert left == 0
    assert sent[0]["status"] == 413

"""The sandbox answers in the providers' own wire format: bodies and status codes shaped like the fixtures."""

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from providers.whatsapp.signatures import answer_verification_challenge
from tests.fixtures.sandbox import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_EVOLUTION_KEY,
    ServerThread,
    load_fixture,
    unique_id,
    unique_phone,
    wire_shape,
)

GRAPH_AUTH = {"Authorization": f"Bearer {SANDBOX_ACCESS_TOKEN}"}


async def test_graph_send_answers_match_the_fixtures(sandbox_control: httpx.AsyncClient) -> None:
    url = f"/v23.0/{unique_id('pn')}/messages"
    text = await sandbox_control.post(url, json=load_fixture("meta/send_text_request.json"), headers=GRAPH_AUTH)
    template = await sandbox_control.post(url, json=load_fixture("meta/send_template_request.json"), headers=GRAPH_AUTH)

    assert text.status_code == template.status_code == 200
    assert wire_shape(text.json()) == wire_shape(load_fixture("meta/send_text_response.json"))
    assert wire_shape(template.json()) == wire_shape(load_fixture("meta/send_template_response.json"))
    assert text.json()["contacts"] == load_fixture("meta/send_text_response.json")["contacts"]
    assert template.json()["messages"][0]["message_status"] == "accepted"


@pytest.mark.parametrize(
    "fixture",
    [
        "meta/error_130429_rate_limit.json",
        "meta/error_131026_undeliverable.json",
        "meta/error_131047_reengagement.json",
        "meta/error_131050_marketing_opt_out.json",
        "meta/error_131056_pair_rate_limit.json",
    ],
)
async def test_graph_error_bodies_match_the_fixtures(sandbox_control: httpx.AsyncClient, fixture: str) -> None:
    expected = load_fixture(fixture)["error"]
    to = unique_phone()
    await sandbox_control.post("/_sandbox/faults", json={"kind": f"error_{expected['code']}", "to": to})
    body = {**load_fixture("meta/send_text_request.json"), "to": to}

    response = await sandbox_control.post(f"/v23.0/{unique_id('pn')}/messages", json=body, headers=GRAPH_AUTH)

    assert response.status_code == 400
    error = response.json()["error"]
    expected.pop("error_subcode", None)  # deprecated, absent from v16+ answers
    assert wire_shape(error) == wire_shape(expected)
    assert (error["message"], error["code"], error["error_data"]) == (
        expected["message"],
        expected["code"],
        expected["error_data"],
    )


async def test_graph_rejects_a_wrong_token_and_a_malformed_body(sandbox_control: httpx.AsyncClient) -> None:
    url = f"/v23.0/{unique_id('pn')}/messages"
    body = load_fixture("meta/send_text_request.json")

    wrong = await sandbox_control.post(url, json=body, headers={"Authorization": "Bearer nope"})
    missing = await sandbox_control.post(url, json=body)
    malformed = await sandbox_control.post(url, json={**body, "type": "sticker"}, headers=GRAPH_AUTH)

    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, 190)
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, 190)
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, 100)


async def test_evolution_answers_match_the_fixtures(sandbox_control: httpx.AsyncClient) -> None:
    url = f"/message/sendText/{unique_id('shard')}"
    body = load_fixture("evolution/send_text_request.json")

    sent = await sandbox_control.post(url, json=body, headers={"apikey": SANDBOX_EVOLUTION_KEY})
    unauthorized = await sandbox_control.post(url, json=body, headers={"apikey": "wrong"})
    await sandbox_control.post("/_sandbox/faults", json={"kind": "not_on_whatsapp", "to": "+14155550199"})
    absent = await sandbox_control.post(
        url, json={**body, "number": "14155550199"}, headers={"apikey": SANDBOX_EVOLUTION_KEY}
    )

    assert sent.status_code == 201
    assert wire_shape(sent.json()) == wire_shape(load_fixture("evolution/send_text_response.json"))
    assert sent.json()["message"]["conversation"] == body["text"]
    assert (unauthorized.status_code, unauthorized.json()) == (
        401,
        load_fixture("evolution/error_401_unauthorized.json"),
    )
    assert (absent.status_code, absent.json()) == (400, load_fixture("evolution/error_400_number_not_on_whatsapp.json"))


async def test_handshake_reports_whether_the_webhook_echoed_the_challenge(sandbox_control: httpx.AsyncClient) -> None:
    verifier = FastAPI()

    @verifier.get("/hook")
    async def verify(request: Request) -> PlainTextResponse:
        challenge = answer_verification_challenge(dict(request.query_params), "right")
        return PlainTextResponse(challenge) if challenge else PlainTextResponse("", status_code=403)

    with ServerThread(lambda _url: verifier) as server:
        ok = await sandbox_control.post(
            "/_sandbox/handshake", json={"webhook_url": f"{server.url}/hook", "verify_token": "right"}
        )
        refused = await sandbox_control.post(
            "/_sandbox/handshake", json={"webhook_url": f"{server.url}/hook", "verify_token": "wrong"}
        )
    assert ok.json()["verified"] is True
    assert ok.json()["body"] == ok.json()["challenge"]
    assert (refused.json()["verified"], refused.json()["status_code"]) == (False, 403)

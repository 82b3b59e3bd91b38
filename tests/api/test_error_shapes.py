"""Every error answer, the framework's own included, has the product's body `{"error", "message", "details"}`:
unknown paths, methods a path does not serve (with an `Allow` naming all of the path's methods), `OPTIONS`, bodies
that are not JSON, unreadable multipart bodies and unexpected failures. A refused field's reason is worded for people:
no pydantic prefix, no regular expression, one entry per problem."""

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.services.statuses import KEY_RULE
from api.services.tenants import SLUG_RULE

LEADS = "/api/v1/leads"
CLOUD_WEBHOOK = "/webhooks/whatsapp/cloud"


def assert_error_shape(response: httpx.Response, code: str) -> dict:
    body = response.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    return body


async def test_an_unknown_path_is_a_404_in_the_product_shape(client, tenant) -> None:
    response = await client.get("/api/v1/no-such-thing", headers=tenant.headers())
    assert response.status_code == 404
    body = assert_error_shape(response, "not_found")
    assert "/api/v1/no-such-thing" in body["message"]


async def test_a_method_the_path_does_not_serve_is_a_405_naming_every_method_of_the_path(client, tenant) -> None:
    response = await client.put(f"{LEADS}/00000000-0000-0000-0000-000000000000", headers=tenant.headers())
    assert response.status_code == 405
    body = assert_error_shape(response, "method_not_allowed")
    # GET, PATCH and DELETE are three routes of one path; Starlette used to name only the first one's methods.
    assert response.headers["allow"] == "GET, PATCH, DELETE, OPTIONS"
    assert body["details"] == {"allowed": ["GET", "PATCH", "DELETE", "OPTIONS"]}
    assert "PUT" in body["message"]


async def test_options_on_the_webhook_path_lists_get_and_post(client) -> None:
    response = await client.options(CLOUD_WEBHOOK)
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    assert response.content == b""


async def test_options_is_answered_the_same_way_on_every_path(client) -> None:
    response = await client.options(LEADS)
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, POST, OPTIONS"
    unknown = await client.options("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert_error_shape(unknown, "not_found")


async def test_the_docs_assets_answer_options_and_wrong_methods_like_every_path(client) -> None:
    asset = "/docs/assets/swagger-ui.css"
    options = await client.options(asset)
    assert options.status_code == 204
    assert options.headers["allow"] == "GET, HEAD, OPTIONS"
    post = await client.post(asset)
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD, OPTIONS"
    assert_error_shape(post, "method_not_allowed")


async def test_malformed_json_is_a_400_saying_where_the_syntax_breaks(client, tenant) -> None:
    response = await client.post(
        LEADS, content=b'{"phone": "+12025550100",', headers={**tenant.headers(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = assert_error_shape(response, "invalid_json")
    assert "not valid JSON" in body["message"]
    assert body["details"][0]["field"] == "body" and body["details"][0]["position"] == 25


async def test_a_body_that_is_not_json_is_a_415_naming_the_content_type(client, tenant) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await client.post(
            LEADS, content=b"phone=+12025550100", headers={**tenant.headers(), "Content-Type": content_type}
        )
        assert response.status_code == 415, response.text
        body = assert_error_shape(response, "unsupported_media_type")
        assert body["details"] == {"content_type": content_type, "expected": "application/json"}


async def test_an_unreadable_multipart_upload_is_a_400_in_the_product_shape(client, tenant) -> None:
    response = await client.post(
        f"{LEADS}/import",
        content=b"phone\n+12025550100\n",
        headers={**tenant.headers(), "Content-Type": "multipart/form-data"},
    )
    assert response.status_code == 400
    body = assert_error_shape(response, "bad_request")
    assert "boundary" in body["message"]


async def test_a_body_over_the_webhook_limit_is_a_413_in_the_product_shape(client) -> None:
    response = await client.post(CLOUD_WEBHOOK, content=b" " * (1024 * 1024 + 1), headers={"X-Hub-Signature-256": "x"})
    assert response.status_code == 413
    assert_error_shape(response, "payload_too_large")


async def test_an_unexpected_failure_is_a_500_in_the_product_shape_without_its_text(settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/_test/fails")
    async def fails() -> None:
        raise RuntimeError("secret row data")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a server's answer: 500, not a raise
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.get("/_test/fails")
    assert response.status_code == 500
    body = assert_error_shape(response, "internal_error")
    assert "secret" not in response.text and body["details"] is None


# Validation reasons, worded for the people the web app shows them to ----------------------------------------------


def assert_validation(response: httpx.Response, field: str, reason: str) -> None:
    assert response.status_code == 422, response.text
    body = assert_error_shape(response, "validation_error")
    assert body["details"] == [{"field": field, "reason": reason}]
    assert body["message"] == f"{field}: {reason}"


async def test_a_validators_own_words_come_without_pydantics_prefix(client, tenant) -> None:
    response = await client.post(LEADS, json={"phone": "+12025550100", "email": "foo@bar"}, headers=tenant.headers())
    assert_validation(response, "email", "'foo@bar' is not an e-mail address")


async def test_a_malformed_id_in_the_path_says_what_an_id_looks_like(client, tenant) -> None:
    response = await client.get(f"{LEADS}/not-a-uuid", headers=tenant.headers())
    assert_validation(response, "lead_id", "not an id: ids are UUIDs such as 123e4567-e89b-42d3-a456-426614174000")


async def test_a_status_key_and_a_slug_that_break_their_pattern_say_what_they_accept(
    client, tenant, system_admin
) -> None:
    wanted = {"key": "Follow Up!", "label": "Follow up", "stage": "contacted"}
    status = await client.post("/api/v1/statuses", json=wanted, headers=tenant.headers())
    assert_validation(status, "key", KEY_RULE)
    body = {"name": "Acme", "slug": "Acme_Sales", "owner_email": "o@example.com", "owner_password": "x" * 12}
    tenant_body = await client.post("/api/v1/tenants", json=body, headers=system_admin.headers)
    assert_validation(tenant_body, "slug", SLUG_RULE)


async def test_a_sequence_lists_every_problem_once_in_plain_words(client, tenant) -> None:
    wait = {"type": "wait", "duration": {"days": 1}}
    steps = [wait, wait, {"type": "task", "title": "", "due_in": {"hours": 4}}, {"type": "wait", "duration": "x"}]
    response = await client.post("/api/v1/sequences", json={"name": "Drip", "steps": steps}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    error = assert_error_shape(response, "invalid_sequence")
    assert error["details"][0] == {"path": "steps[2].title", "message": "must not be empty"}
    assert [d["path"] for d in error["details"]] == ["steps[2].title", "steps[3].duration"]
    listed = "; ".join(f"{d['path']}: {d['message']}" for d in error["details"])
    assert error["message"] == f"the sequence has 2 problems: {listed}"

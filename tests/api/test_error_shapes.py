"""Every error answer, the framework's own included, has the product's body `{"error", "message", "details"}`:
unknown paths, methods a path does not serve (with an `Allow` naming all of the path's methods), `OPTIONS`, bodies
that are not JSON, unreadable multipart bodies and unexpected failures."""

import httpx
from fastapi import FastAPI

from api.app import create_app

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

"""Security headers on every answer (success, client errors, the 500 of a bug, the docs pages) and CORS only for
configured origins."""

import base64
import hashlib
import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from core.config import Settings

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _assert_strict(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    csp = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"] and "*" not in directives["script-src"]


def _app_with_a_bug(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def boom() -> None:
        raise ValueError("a bug")

    app.add_api_route("/boom", boom)
    return app


async def _bare_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://testserver"
    )


async def test_every_kind_of_answer_carries_the_headers(client: httpx.AsyncClient, settings: Settings) -> None:
    answers = [
        await client.get("/healthz"),
        await client.get("/openapi.json"),
        await client.get("/api/v1/leads"),  # 401
        await client.get("/api/v1/nowhere"),  # 404
        await client.delete("/healthz"),  # 405
        await client.options("/api/v1/leads"),  # 204
        await client.post("/api/v1/auth/login", json={"email": "x"}),  # 422
        await client.post("/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}),  # 400
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 405, 204, 422, 400]
    async with await _bare_client(_app_with_a_bug(settings)) as bare:
        answers.append(await bare.get("/boom"))
    assert answers[-1].status_code == 500
    for answer in answers:
        _assert_strict(answer)
        assert "strict-transport-security" not in answer.headers, "HSTS is for prod only"


async def test_hsts_in_prod(settings: Settings) -> None:
    prod = settings.model_copy(update={"env": "prod", "hsts_max_age_seconds": 31536000})
    async with await _bare_client(_app_with_a_bug(prod)) as bare:
        for path, status in (("/healthz", 200), ("/api/v1/nowhere", 404), ("/boom", 500)):
            answer = await bare.get(path)
            assert answer.status_code == status
            assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_docs_pages_allow_only_their_own_inline_scripts(client: httpx.AsyncClient, page: str) -> None:
    answer = await client.get(page)
    assert answer.status_code == 200
    _assert_strict(answer)
    script_src = next(
        part.strip() for part in answer.headers["content-security-policy"].split(";") if "script-src" in part
    )
    for script in re.findall(r"<script>(.*?)</script>", answer.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src, page
    assert len(script_src.split()) == 2 + len(re.findall(r"<script>", answer.text))


async def test_cors_answers_only_configured_origins(settings: Settings) -> None:
    allowed = f"https://crm-{uuid.uuid4().hex[:6]}.example.com"
    app = create_app(settings.model_copy(update={"cors_allowed_origins": [allowed]}))
    async with await _bare_client(app) as bare:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        ok = await bare.options("/api/v1/auth/login", headers={"origin": allowed, **preflight})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == allowed
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "x-csrf-token" in ok.headers["access-control-allow-headers"].lower()
        _assert_strict(ok)

        refused = await bare.options("/api/v1/auth/login", headers={"origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
        assert "access-control-allow-methods" not in refused.headers

        answer = await bare.get("/healthz", headers={"origin": allowed})
        assert answer.headers["access-control-allow-origin"] == allowed
        assert "Retry-After" in answer.headers["access-control-expose-headers"]
        other = await bare.get("/healthz", headers={"origin": "https://evil.example"})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        assert other.headers["vary"] == "Origin"


async def test_no_origin_is_allowed_by_default(client: httpx.AsyncClient) -> None:
    preflight = {"access-control-request-method": "GET", "origin": "http://127.0.0.1:5173"}
    answer = await client.options("/api/v1/leads", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    answer = await client.get("/healthz", headers={"origin": "http://127.0.0.1:5173"})
    assert "access-control-allow-origin" not in answer.headers

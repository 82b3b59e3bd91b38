"""`/docs` and `/redoc` work without internet access: every asset they reference is served by the API itself."""

import re

import httpx
import pytest

ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _referenced_urls(html: str) -> list[str]:
    """Every URL the page loads: src/href/spec-url attributes and the URLs of Swagger UI's inline configuration."""
    attributes = re.findall(r'(?:src|href|spec-url)\s*=\s*["\']([^"\']+)["\']', html)
    scripted = re.findall(r"(?:url:|window\.location\.origin \+)\s*['\"]([^'\"]+)['\"]", html)
    return attributes + scripted


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_loads_only_assets_the_api_serves(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert "http://" not in response.text and "https://" not in response.text, "a page must not load from elsewhere"
    urls = _referenced_urls(response.text)
    assert "/openapi.json" in urls
    assets = [url for url in urls if url.startswith("/docs/assets/")]
    assert any(url.endswith(".js") for url in assets)
    for url in urls:
        assert url.startswith("/"), f"{page} references {url}, which is not served by the API"
        answer = await client.get(url)
        assert answer.status_code == 200, url
        suffix = url[url.rfind(".") :]
        if suffix in ASSET_TYPES:
            assert answer.headers["content-type"].startswith(ASSET_TYPES[suffix]), (url, answer.headers)
            assert len(answer.content) > 1000, url


async def test_swagger_ui_is_a_version_that_reads_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    bundle = (await client.get("/docs/assets/swagger-ui-bundle.js")).text
    # Swagger UI reads OpenAPI 3.1 from version 5 on; FastAPI writes 3.1 documents.
    assert re.search(r'"5\.\d+\.\d+"', bundle)

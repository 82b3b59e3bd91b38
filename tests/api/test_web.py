"""The API serves the web app's build at `/` beside the JSON API, and answers where things are without a build."""

import gzip
from pathlib import Path

import httpx

from api.app import create_app
from core.config import Settings

INDEX = "<!doctype html><title>Leadflow</title>"


def _client(settings: Settings, dist: Path) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"web_dist_dir": str(dist)}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def _build(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('app')")
    return root


async def test_the_build_is_served_and_any_app_path_gets_its_index(settings: Settings, tmp_path: Path) -> None:
    async with _client(settings, _build(tmp_path / "dist")) as c:
        root = await c.get("/")
        deep = await c.get("/leads/4b0c1c52-1f43-4f53-9c44-1f1b0e0f0a01")
        asset = await c.get("/assets/index-abc123.js")
    assert root.status_code == 200 and root.text == INDEX and root.headers["cache-control"] == "no-cache"
    assert deep.status_code == 200 and deep.text == INDEX
    assert asset.status_code == 200 and asset.text == "console.log('app')"
    assert "immutable" in asset.headers["cache-control"]


async def test_api_paths_keep_their_own_answers(settings: Settings, tmp_path: Path) -> None:
    async with _client(settings, _build(tmp_path / "dist")) as c:
        unknown = await c.get("/api/v1/no-such-thing")
        wrong_method = await c.post("/no-such-page")
        schema = await c.get("/openapi.json")
        outside = await c.get("/../../etc/passwd")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert wrong_method.status_code in (404, 405) and "error" in wrong_method.json()
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Leadflow"
    assert outside.status_code == 200 and outside.text == INDEX  # never a file outside the build


async def test_a_route_added_after_the_app_was_built_still_answers(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings.model_copy(update={"web_dist_dir": str(_build(tmp_path / "dist"))}))

    @app.get("/added-later")
    async def added_later() -> dict[str, bool]:
        return {"added": True}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        assert (await c.get("/added-later")).json() == {"added": True}
        assert (await c.get("/leads")).text == INDEX


async def test_without_a_build_the_base_url_says_where_things_are(settings: Settings, tmp_path: Path) -> None:
    async with _client(settings, tmp_path / "not-built") as c:
        response = await c.get("/")
        elsewhere = await c.get("/leads")
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "not_found"
    assert response.status_code == 200
    body = response.json()
    assert body["api"] == "/api/v1" and body["openapi"] == "/openapi.json" and "not built" in body["web"]


def test_the_built_javascript_is_under_300_kb_gzipped() -> None:
    from tests.fixtures.web import ensure_built

    scripts = list((ensure_built(quiet=True) / "assets").glob("*.js"))
    assert scripts, "the build has no JavaScript"
    size = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in scripts)
    assert size < 300 * 1024, f"{size / 1024:.0f} KB of JavaScript gzipped"

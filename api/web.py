"""The agents' web app: the API serves its build (web/dist) at `/`, beside the JSON API.

Any GET that no API route answered and that is not under an API prefix gets a file of the build, or `index.html` so
the app's own router can show the page (a reload on /leads/123 works). Built assets have hashed names and are cached
for good; `index.html` is always revalidated so a new build is picked up at once. Without a build, `/` says where
things are, as a JSON answer.
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

CHECKOUT = Path(__file__).resolve().parent.parent
# Paths the web app never claims: an unknown API path stays a JSON 404 (or 405) from the API.
API_PREFIXES = ("/api/", "/webhooks/", "/openapi.json", "/docs", "/redoc", "/healthz", "/readyz", "/metrics")
IMMUTABLE = "public, max-age=31536000, immutable"


def dist_dir(configured: str) -> Path:
    path = Path(configured)
    return path if path.is_absolute() else CHECKOUT / path


def _where_things_are() -> dict[str, str]:
    return {
        "name": "Leadflow API",
        "api": "/api/v1",
        "openapi": "/openapi.json",
        "docs": "/docs (Swagger UI), /redoc",
        "health": "/healthz",
        "ready": "/readyz",
        "web": "not built: run `npm ci && npm run build` in web/ (./run up does it)",
    }


class _WebAppRoute(Route):
    """A GET/HEAD route that steps aside for API prefixes, so those keep the API's own 404 and 405 answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        if scope["path"].startswith(API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def install_web(app: FastAPI, configured_dir: str) -> None:
    """Serve the web build at `/`; call after every API router is included (routes match in order)."""
    root = dist_dir(configured_dir).resolve()

    async def serve(request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return JSONResponse(_where_things_are())
        wanted = (root / request.path_params["path"]).resolve()
        if wanted != root and wanted.is_relative_to(root) and wanted.is_file():
            cache = IMMUTABLE if wanted.parent.name == "assets" else "no-cache"
            return FileResponse(wanted, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    route: Any = _WebAppRoute("/{path:path}", serve, methods=["GET", "HEAD"], include_in_schema=False)
    app.router.routes.append(route)

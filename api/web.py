"""The agents' web app: the API serves its build (web/dist) at `/`, beside the JSON API.

Any GET that no route answered and that is not under an API prefix gets a file of the build, or `index.html` so the
app's own router can show the page (a reload on /leads/123 works). Built assets have hashed names and are cached
for good; `index.html` is always revalidated so a new build is picked up at once. Without a build, `/` says where
things are, as a JSON answer.
"""

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

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


def install_web(app: FastAPI, configured_dir: str) -> None:
    """Serve the web build for GETs no route answers. It is the router's fallback rather than a catch-all route, so
    a route added later (by anyone) still wins."""
    root = dist_dir(configured_dir).resolve()
    not_found = app.router.default

    def answer(path: str) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return JSONResponse(_where_things_are())
        wanted = (root / path).resolve()
        if wanted != root and wanted.is_relative_to(root) and wanted.is_file():
            cache = IMMUTABLE if wanted.parent.name == "assets" else "no-cache"
            return FileResponse(wanted, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        served = path == "/" or (root / "index.html").is_file()
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and served
            and not path.startswith(API_PREFIXES)
        ):
            await answer(path.lstrip("/"))(scope, receive, send)
            return
        await not_found(scope, receive, send)

    app.router.default = fallback

"""Cross-origin requests: allowed only from configured origins, per path prefix.

The web app is served by the API (same origin) and needs no CORS. `LEADFLOW_CORS_ALLOWED_ORIGINS` lets other browser
origins call the whole API; a rule may also open one prefix to one more origin (the Temporal Web UI calling the
payload codec under /codec). A request from any other origin gets no CORS header, so the browser withholds the answer;
its preflight goes on to the app, which answers `OPTIONS` like for anyone (204 with `Allow`, api/http_methods.py),
without the headers a browser needs to go ahead. Credentials (the session cookie) are allowed for allowed origins,
so the origin is echoed, never `*`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# Headers the web app and the Temporal Web UI send (X-Namespace: the UI's codec calls).
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, X-Namespace, X-Request-Id"
EXPOSED_HEADERS = "Location, Retry-After, X-Request-Id"
PREFLIGHT_MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class CorsRule:
    """Origins allowed to call paths starting with `path_prefix` ("/" for every path)."""

    path_prefix: str
    origins: frozenset[str]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, the form browsers send in `Origin`."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".lower()


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, rules: Sequence[CorsRule]) -> None:
        self.app = app
        self.rules = [rule for rule in rules if rule.origins]

    def _allowed(self, path: str, origin: str) -> bool:
        return any(path.startswith(rule.path_prefix) and origin in rule.origins for rule in self.rules)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.rules:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._allowed(scope["path"], origin.lower())
        if allowed and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                if allowed:
                    extra += _allow(origin)
                    extra.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _allow(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode()), (b"access-control-allow-credentials", b"true")]


async def _preflight(origin: str, send: Send) -> None:
    headers = [
        *_allow(origin),
        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
        (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_SECONDS).encode()),
        (b"vary", b"Origin"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def rules_for(*, api_origins: Iterable[str], codec_origin: str | None = None) -> list[CorsRule]:
    """The configured origins for the whole API, and the Temporal Web UI's origin for the payload codec."""
    rules = [CorsRule("/", frozenset(origin_of(origin) for origin in api_origins))]
    if codec_origin:
        rules.append(CorsRule("/codec/", frozenset({origin_of(codec_origin)})))
    return rules

"""Security headers on every answer of the API, errors and the docs pages included.

The CSP fits a same-origin single-page app (React, built by Vite into files the API serves): scripts, styles,
images, fonts and XHR/SSE only from the API's own origin, no plugins, no `<base>` or form posts elsewhere, and no
framing at all (`frame-ancestors 'none'`, plus `X-Frame-Options` for old browsers). Inline styles stay allowed
because component libraries set `style` attributes; inline scripts do not. A page that needs an inline script (the
Swagger UI bootstrap in api/docs.py) sets its own CSP naming that script's hash, and it is kept. HSTS is sent in prod
only: dev and the tests run on plain http, where a browser would remember it for the host.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**overrides: str) -> str:
    """The API's CSP, with directives replaced by `overrides` (`script_src="'self' 'sha256-...'"`)."""
    directives = dict(CSP_DIRECTIVES)
    directives.update({name.replace("_", "-"): value for name, value in overrides.items()})
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CSP = content_security_policy()


def security_headers(*, hsts_max_age_seconds: int | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # Lead ids sit in the web app's URLs: no page of it tells another site where it came from.
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if hsts_max_age_seconds is not None:
        headers.append((b"strict-transport-security", f"max-age={hsts_max_age_seconds}; includeSubDomains".encode()))
    return headers


class SecurityHeadersMiddleware:
    """Adds `security_headers` to every HTTP answer; a header the answer already carries is kept as it is."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_seconds: int | None) -> None:
        self.app = app
        self.headers = security_headers(hsts_max_age_seconds=hsts_max_age_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in self.headers if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

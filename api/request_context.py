"""Each request's log context, its one log line, its metrics (api/metrics.py) and its server span (core/tracing.py).

A request gets an id (the caller's `X-Request-Id` when it is a plain token, else a new one), echoed in the answer's
`X-Request-Id`, and a fresh core/log_context.py context that authentication fills with the tenant and user. When the
answer is sent, one line records the method, the route template (never the raw path or query, which may hold a phone
number), the status, the duration and the lead id of the path, if any.
"""

import logging
import re
import time
import uuid

from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import observe_request
from core.log_context import bound

log = logging.getLogger("api.request")
_tracer = trace.get_tracer("leadflow.api")

_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/leads/{lead_id}`), or `unmatched` when no route matched.

    A route of an included router knows only its own part of the path (`/leads/{lead_id}`); FastAPI keeps the whole
    template on the route context it selected.
    """
    selected = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route")
    for candidate in (selected, route):
        path = getattr(candidate, "path_format", None) or getattr(candidate, "path", None)
        if path:
            return str(path)
    return "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _ACCEPTED_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        with (
            bound(request_id=request_id) as context,
            _tracer.start_as_current_span(
                scope["method"], context=propagate.extract(headers), kind=trace.SpanKind.SERVER
            ) as span,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                context.update(lead_id=scope.get("path_params", {}).get("lead_id"))
                template = route_template(scope)
                span.update_name(f"{scope['method']} {template}")
                span.set_attribute("http.request.method", scope["method"])
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                span.set_attribute("leadflow.request_id", request_id)
                seconds = time.perf_counter() - started
                observe_request(method=scope["method"], route=template, status=status, seconds=seconds)
                duration_ms = round(seconds * 1000, 1)
                log.info(
                    "%s %s %s",
                    scope["method"],
                    template,
                    status,
                    extra={"fields": {"route": template, "status": status, "duration_ms": duration_ms}},
                )

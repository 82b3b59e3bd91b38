"""A size limit on request bodies under /api/: a body past it is refused with 413 before it is parsed or stored.

JSON bodies are limited to `api_max_body_bytes` (1 MiB: a sequence of 50 long steps or 10,000 lead ids fit many
times over); the CSV import's upload (`POST /api/v1/leads/import`, and no other route) to its own
`lead_import_max_bytes` plus room for the multipart form's framing.
A declared Content-Length past the limit is refused without parsing; a chunked body is cut off once it passes the
limit. Either way the rest of the body is read and dropped (up to `DRAIN_AT_MOST_BYTES`) before the 413 goes out:
a server that answers and closes while the client is still sending makes most clients report a connection reset
instead of the answer. Webhooks have their own limit (api/routes/webhooks_whatsapp.py).
"""

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/api/"
UPLOAD_ROUTE = ("POST", "/api/v1/leads/import")
MULTIPART_FRAMING_BYTES = 64 * 1024
# How much of a refused body is read and dropped so its sender hears the 413; past it the connection just closes.
DRAIN_AT_MOST_BYTES = 64 * 1024 * 1024


def too_large_message(limit: int) -> str:
    return f"the request body is over {limit} bytes, the most this endpoint accepts"


class BodyTooLarge(HTTPException):
    """A body that passed its limit while it was read: a 413 naming the limit (api/errors.py answers it)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=too_large_message(max_bytes))
        self.max_bytes = max_bytes


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # What the caller is told is the file's limit; the form's framing around it is allowed on top.
        if (scope["method"], scope["path"]) == UPLOAD_ROUTE:
            shown, limit = self.max_upload_bytes, self.max_upload_bytes + MULTIPART_FRAMING_BYTES
        else:
            shown = limit = self.max_json_bytes
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await _drain(receive, already=0)
            await _refuse(send, shown)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive, already=received)
                    # Raised inside the endpoint's body read: the app's error handlers answer it (api/errors.py).
                    raise BodyTooLarge(shown)
            return message

        await self.app(scope, limited, send)


async def _drain(receive: Receive, *, already: int) -> None:
    """Read the rest of the request body and drop it, up to `DRAIN_AT_MOST_BYTES` in all."""
    drained = already
    while drained <= DRAIN_AT_MOST_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": "payload_too_large", "message": too_large_message(limit), "details": {"max_bytes": limit}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

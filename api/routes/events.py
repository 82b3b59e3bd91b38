"""`GET /api/v1/events`: the caller's live events as Server-Sent Events (core/live_events.py).

One stream per browser tab: every event of the caller's tenant, plus those addressed to the caller alone. Each event
carries its stream id; a browser that reconnects sends it back (`Last-Event-ID`, which EventSource sends by itself,
or `?last_event_id=` for a new EventSource) and gets what it missed. When that is too old, the stream starts with a
`reset` event: refetch everything. A comment line every `KEEPALIVE_SECONDS` keeps proxies from closing an idle
stream; a session that ended (logout, expiry, revocation) ends the stream at the next one. A stream ends after
`live_events_stream_seconds` and the browser reconnects from its last id, so no stream outlives a check for long.
"""

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError

from api.auth.principal import Principal
from api.auth.sessions import session_store, session_store_reachable
from api.deps import SettingsDep
from api.security import Authenticated
from core.errors import Unprocessable
from core.live_events import LiveEvents, valid_event_id
from core.redis import Keys

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
RETRY_MS = 2000


def _frame(event_id: str, event_type: str, data: object) -> str:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _session_alive(request: Request, principal: Principal, cookie_name: str) -> bool:
    if principal.via != "session":
        return True
    token = request.cookies.get(cookie_name)
    return token is not None and await session_store(request).get(token) is not None


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "an endless stream of Server-Sent Events"}},
)
async def events(
    request: Request,
    principal: Authenticated,
    settings: SettingsDep,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    last_event_id: Annotated[str | None, Query(max_length=40, description="the id of the last event seen")] = None,
) -> StreamingResponse:
    """What changed in the caller's tenant, live: `conversation.changed`, `lead.changed`, `task.changed`,
    `enrollment.changed`, `notification.created` (data names the ids; fetch the rest through the API)."""
    tenant_id = principal.tenant()
    resume = last_event_id_header or last_event_id
    if resume is not None and not valid_event_id(resume):
        raise Unprocessable("Last-Event-ID: not an event id this API sent", details=[{"field": "last_event_id"}])
    live = LiveEvents(request.app.state.redis, Keys(settings.redis_prefix))
    async with session_store_reachable():
        start = resume if resume is not None else await live.latest_id(tenant_id)
        reset = resume is not None and await live.missed_too_many(tenant_id, resume)

    async def stream() -> AsyncIterator[str]:
        position = start
        ends_at = time.monotonic() + settings.live_events_stream_seconds
        yield f"retry: {RETRY_MS}\n\n"
        if reset:
            yield _frame(position, "reset", {})
        while not await request.is_disconnected() and (left := ends_at - time.monotonic()) > 0:
            wait_ms = max(1, int(min(KEEPALIVE_SECONDS, left) * 1000))
            try:
                batch = await live.read(tenant_id, after=position, user_id=principal.user_id, block_ms=wait_ms)
            except (RedisError, OSError) as exc:
                log.warning("live event stream ended: %s", exc)
                return  # the browser reconnects from its last id
            for event in batch:
                position = event.id
                if event.type:
                    yield _frame(event.id, event.type, event.data)
            if not batch:
                if not await _session_alive(request, principal, settings.session_cookie_name):
                    return
                yield ": keepalive\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

"""Admission control: a cap on requests in flight per API process for endpoints whose callers retry.

Past the cap a request is refused at once (503 with Retry-After) before it touches the database. Providers redeliver
refused webhooks, so under overload the process keeps answering the deliveries it admitted quickly instead of queueing
every request for the connection pool until all of them time out. The count lives on the app (one event loop, no lock).
"""

from collections.abc import AsyncIterator

from fastapi import Request

from api.openapi import raises
from core.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 1


@raises(503)
async def limit_webhooks_in_flight(request: Request) -> AsyncIterator[None]:
    state = request.app.state
    limit = state.settings.webhook_max_in_flight
    in_flight = getattr(state, "webhooks_in_flight", 0)
    if in_flight >= limit:
        raise ServiceUnavailable(
            f"{in_flight} webhook deliveries are being handled; retry in {RETRY_AFTER_SECONDS} s",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    state.webhooks_in_flight = in_flight + 1
    try:
        yield
    finally:
        state.webhooks_in_flight -= 1

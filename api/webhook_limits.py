"""The `webhook_source` rate-limit preset on every webhook endpoint: deliveries per sender address.

Past the limit a sender gets 429 with Retry-After (providers redeliver), before its body is read or stored: one
misbehaving sender cannot fill the inbox. The limit fails open: with Redis down deliveries go on to the inbox, which
needs only PostgreSQL, rather than being refused for an outage of the limiter.
"""

import logging

from fastapi import Request
from redis.exceptions import RedisError

from api.client_address import client_address
from api.openapi import raises
from core.rate_limits import RateLimiter

log = logging.getLogger(__name__)


@raises(429)
async def limit_webhook_source(request: Request) -> None:
    limits: RateLimiter = request.app.state.rate_limits
    sender = client_address(request, request.app.state.settings.trusted_proxies)
    try:
        await limits.hit("webhook_source", sender)
    except RedisError as exc:
        log.warning("webhook rate limit not applied (Redis unreachable): %s", exc)

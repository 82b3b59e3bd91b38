"""The webhook and TTS rate-limit presets (core/rate_limits.py) where the API applies them.

- `webhook_source` on every webhook endpoint: deliveries per sender address, before the body is read or stored, so
  one misbehaving sender cannot fill the inbox.
- `webhook_tenant` once a delivery is verified and its tenant known (WhatsApp Cloud deliveries, every Twilio voice
  webhook): one tenant's flood cannot crowd the others out of the inbox. Evolution deliveries name their tenant
  only in the dispatcher (the shard's instance), so they are limited per sender only.
- `tts` when an answer to Twilio makes it speak (`<Say>`, also inside `<Gather>`): text-to-speech per tenant.

Past a limit the caller gets 429 with Retry-After (providers redeliver) and the refusal is counted in
`leadflow_rate_limit_refusals_total{limit=...}`. The limits fail open: with Redis down deliveries go on to the inbox,
which needs only PostgreSQL, and calls keep speaking, rather than being refused for an outage of the limiter.
"""

import logging
import uuid
from collections.abc import Iterable

from fastapi import Request
from redis.exceptions import RedisError

from api.client_address import client_address
from api.openapi import raises
from core.rate_limits import RateLimiter

log = logging.getLogger(__name__)


async def _hit(limits: RateLimiter, preset: str, subject: str) -> None:
    try:
        await limits.hit(preset, subject)
    except RedisError as exc:
        log.warning("%s rate limit not applied (Redis unreachable): %s", preset, exc)


@raises(429)
async def limit_webhook_source(request: Request) -> None:
    limits: RateLimiter = request.app.state.rate_limits
    await _hit(limits, "webhook_source", client_address(request, request.app.state.settings.trusted_proxies))


async def limit_webhook_tenants(limits: RateLimiter, tenant_ids: Iterable[uuid.UUID | None]) -> None:
    """Count one delivery against each tenant it carries events of; 429 when one of them is over its limit."""
    for tenant_id in sorted({t for t in tenant_ids if t is not None}, key=str):
        await _hit(limits, "webhook_tenant", str(tenant_id))


async def count_tts(limits: RateLimiter, tenant_id: uuid.UUID) -> None:
    """Count one spoken answer against the tenant's TTS limit; 429 past it."""
    await _hit(limits, "tts", str(tenant_id))


async def limit_tts(limits: RateLimiter, tenant_id: uuid.UUID, twiml: str) -> str:
    """The TwiML, once its speech (if any) is counted against the tenant's TTS limit (429 past it)."""
    if "<Say" in twiml:
        await count_tts(limits, tenant_id)
    return twiml

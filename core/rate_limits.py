"""The rate-limit presets, one registry in Redis: each preset allows `limit` hits per subject in a fixed window.

| preset | subject | what it protects |
|---|---|---|
| `login` | account, client IP | password guessing (failures only; api/auth/ratelimit.py applies it) |
| `password` | user | guessing the current password through `POST /api/v1/auth/password` |
| `webhook_source` | the sender's address | the webhook endpoints, past the inbox's capacity (api/webhook_limits.py) |
| `webhook_tenant` | tenant | one tenant's flood crowding out the others (for channels that know the tenant) |
| `tts` | tenant | text-to-speech spend of calls (`RateLimiter.hit("tts", tenant_id)`) |

Limits and windows come from settings (`LEADFLOW_RATE_LIMIT_*`). A refused hit is not counted, raises `RateLimited`
with the seconds until the window ends, and calls the `on_refusal` hook with the preset's name (the API counts it in
`leadflow_rate_limit_refusals_total`). The counter's window starts at the subject's first hit.
"""

from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from core.config import Settings
from core.errors import TooManyRequests
from core.redis import Keys


@dataclass(frozen=True)
class Preset:
    name: str
    limit: int
    window_seconds: int
    subject: str  # what a hit is counted against, for messages


def presets(settings: Settings) -> dict[str, Preset]:
    return {
        preset.name: preset
        for preset in (
            Preset("login", settings.login_max_failures_per_account, settings.login_window_seconds, "account"),
            Preset(
                "password",
                settings.rate_limit_password_attempts,
                settings.rate_limit_password_window_seconds,
                "your account",
            ),
            Preset(
                "webhook_source",
                settings.rate_limit_webhook_source_per_window,
                settings.rate_limit_webhook_window_seconds,
                "this sender",
            ),
            Preset(
                "webhook_tenant",
                settings.rate_limit_webhook_tenant_per_window,
                settings.rate_limit_webhook_window_seconds,
                "this tenant",
            ),
            Preset("tts", settings.rate_limit_tts_per_window, settings.rate_limit_tts_window_seconds, "this tenant"),
        )
    }


class RateLimited(TooManyRequests):
    """429 with Retry-After: the preset's limit is used up for this subject until the window ends."""

    def __init__(self, preset: Preset, retry_after: int) -> None:
        super().__init__(
            f"too many requests for {preset.subject} ({preset.limit} per {preset.window_seconds} s); "
            f"try again in {retry_after} s",
            details={"limit": preset.name, "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.preset = preset
        self.retry_after = retry_after


# Count the hit unless the limit is reached; answer [allowed (1/0), seconds left in the window].
_HIT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  return {0, redis.call('TTL', KEYS[1])}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return {1, redis.call('TTL', KEYS[1])}
"""


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        settings: Settings,
        *,
        on_refusal: Callable[[str], None] = lambda _name: None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.presets = presets(settings)
        self.on_refusal = on_refusal

    async def hit(self, name: str, subject: str) -> None:
        """Count one hit of `subject` against preset `name`; `RateLimited` (not counted) when its limit is used up."""
        preset = self.presets[name]
        key = self.keys("rate_limit", name, subject)
        allowed, ttl = await self.redis.eval(_HIT, 1, key, preset.limit, preset.window_seconds)  # type: ignore[misc]
        if int(allowed):
            return
        self.on_refusal(name)
        raise RateLimited(preset, retry_after=max(int(ttl), 1))

    async def reset(self, name: str, subject: str) -> None:
        await self.redis.delete(self.keys("rate_limit", name, subject))

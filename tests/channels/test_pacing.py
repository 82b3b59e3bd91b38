"""Send pacing in Redis: per sender number per second, and per recipient at least an interval apart."""

import secrets
import time

from redis.asyncio import Redis

from channels.whatsapp.pacing import SendPacer
from core.config import Settings
from core.redis import Keys


def _pacer(redis: Redis, settings: Settings, **limits: float) -> SendPacer:
    keys = Keys(f"{settings.redis_prefix}:{secrets.token_hex(4)}")
    return SendPacer(
        redis,
        keys,
        per_second=int(limits.get("per_second", 80)),
        recipient_interval_seconds=limits.get("interval", 6.0),
    )


async def test_one_recipient_waits_the_interval_but_a_retry_of_the_same_send_does_not(
    redis: Redis, settings: Settings
) -> None:
    pacer = _pacer(redis, settings, interval=6.0)
    assert await pacer.reserve(sender="s", recipient="+14155550123", send_key="a") == 0
    assert await pacer.reserve(sender="s", recipient="+14155550123", send_key="a") == 0
    wait = await pacer.reserve(sender="s", recipient="+14155550123", send_key="b")
    assert 5.0 < wait <= 6.0
    assert await pacer.reserve(sender="s", recipient="+14155550147", send_key="c") == 0


async def test_a_sender_is_held_to_its_rate_per_second(redis: Redis, settings: Settings) -> None:
    pacer = _pacer(redis, settings, per_second=3, interval=0)
    start = time.time()
    waits = [await pacer.reserve(sender="s", recipient=f"+1415555{i:04d}", send_key=str(i)) for i in range(12)]
    seconds_spanned = int(time.time()) - int(start) + 1
    # At most 3 go in each calendar second the loop touched; the others are told to wait for the next second.
    assert waits.count(0.0) <= 3 * seconds_spanned
    assert all(0 < w <= 1.0 for w in waits if w)
    if seconds_spanned < 4:
        assert any(w > 0 for w in waits)

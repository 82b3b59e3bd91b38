"""Send pacing in Redis, shared by every worker process: per sender number and per recipient.

- Sender: at most `per_second` sends per business number in each one-second window (Meta's default throughput is
  80 messages/s): a counter per (number, second).
- Recipient: at least `recipient_interval` between two sends to the same person (Meta's pair rate limit is about
  one message per 6 s). The slot is held by the send's idempotency key, so a retry of the same send is not made to
  wait for itself.
`reserve` never sleeps: it answers how long to wait (0 = go). The caller waits briefly or reschedules the attempt.
"""

import time

from redis.asyncio import Redis

from core.redis import Keys

# Reserve the recipient slot only if free or already ours; returns 0 when reserved, else the slot's remaining ms.
_RECIPIENT_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 1 end
return ttl
"""


class SendPacer:
    def __init__(self, redis: Redis, keys: Keys, *, per_second: int, recipient_interval_seconds: float) -> None:
        self._redis = redis
        self._keys = keys
        self._per_second = per_second
        self._recipient_ms = int(recipient_interval_seconds * 1000)
        self._recipient_script = redis.register_script(_RECIPIENT_SCRIPT)

    async def reserve(self, *, sender: str, recipient: str, send_key: str) -> float:
        """Seconds to wait before this send may go out; 0.0 means it holds both slots now."""
        if self._recipient_ms > 0:
            wait_ms = int(
                await self._recipient_script(
                    keys=[self._keys("wa", "pace", "to", sender, recipient)], args=[send_key, self._recipient_ms]
                )
            )
            if wait_ms > 0:
                return wait_ms / 1000
        now = time.time()
        second = int(now)
        key = self._keys("wa", "pace", "from", sender, second)
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2)
        count, _ = await pipe.execute()
        if int(count) <= self._per_second:
            return 0.0
        return max(0.001, second + 1 - now)

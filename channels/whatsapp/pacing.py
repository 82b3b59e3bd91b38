"""Send pacing in Redis, shared by every worker process: per sender number and per recipient.

- Sender: at most `per_second` sends per business number in each one-second window (Meta's default throughput is
  80 messages/s): a counter per (number, second).
- Recipient: at least `recipient_interval` between two sends to the same person (Meta's pair rate limit is about
  one message per 6 s), measured where it matters: at the provider. A send holds the person's slot from its
  reservation until its request is done (`sent`), and the interval runs from then: whatever time passes between
  reserving and the provider receiving the request (the outbox commit, a busy event loop, a slow connection) cannot
  shorten the gap to the next send. The slot is held by the send's idempotency key, so a retry of the same send is
  not made to wait for itself.
`reserve` never sleeps: it answers how long to wait (0 = go) before asking again. The caller waits briefly or
reschedules the attempt.
"""

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys

log = logging.getLogger(__name__)

# How long a send whose request is in flight keeps the recipient's slot at most: far beyond the provider HTTP
# timeouts, so it ends with `sent`; it matters only when the worker died mid-request (the slot then frees itself).
IN_FLIGHT_LEASE_SECONDS = 60

# Take the recipient slot if free or already ours (held for the in-flight lease; returns 0), else answer how long to
# wait before asking again: the time left, but no more than one interval while the holder is still in flight.
_RESERVE_RECIPIENT = """
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 1 end
return math.min(ttl, tonumber(ARGV[3]))
"""

# The holder's request is done: the next send to this person may go one interval from now (not from the
# reservation). A slot another send holds by now (this one outlived its lease) stays theirs.
_SENT_TO_RECIPIENT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
"""

# The send did not reach the provider (refused, deferred, already sent): give the recipient's slot back untouched, so
# the next send to the person waits for nothing this one did.
_RELEASE_RECIPIENT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
"""


class SendPacer:
    def __init__(self, redis: Redis, keys: Keys, *, per_second: int, recipient_interval_seconds: float) -> None:
        self._redis = redis
        self._keys = keys
        self._per_second = per_second
        self._recipient_ms = int(recipient_interval_seconds * 1000)
        self._reserve_recipient = redis.register_script(_RESERVE_RECIPIENT)
        self._sent_to_recipient = redis.register_script(_SENT_TO_RECIPIENT)
        self._release_recipient = redis.register_script(_RELEASE_RECIPIENT)

    def _recipient_key(self, sender: str, recipient: str) -> str:
        return self._keys("wa", "pace", "to", sender, recipient)

    async def reserve(self, *, sender: str, recipient: str, send_key: str) -> float:
        """Seconds to wait before asking again; 0.0 means this send holds both slots now and may go."""
        if self._recipient_ms > 0:
            wait_ms = int(
                await self._reserve_recipient(
                    keys=[self._recipient_key(sender, recipient)],
                    args=[send_key, self._recipient_ms + IN_FLIGHT_LEASE_SECONDS * 1000, self._recipient_ms],
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

    async def sent(self, *, sender: str, recipient: str, send_key: str) -> None:
        """The send's request is done (answered, refused or failed): the recipient's interval starts now."""
        if self._recipient_ms <= 0:
            return
        try:
            await self._sent_to_recipient(
                keys=[self._recipient_key(sender, recipient)], args=[send_key, self._recipient_ms]
            )
        except RedisError as exc:
            # The message's fate is decided; the slot still ends with its in-flight lease.
            # The send key names the send (and its lead); the recipient's number never goes into a log.
            log.warning("pacing: could not restart the recipient's interval after send %s: %s", send_key, exc)

    async def release(self, *, sender: str, recipient: str, send_key: str) -> None:
        """The send reserved its slots but never made its request: the recipient's slot is free again at once."""
        if self._recipient_ms <= 0:
            return
        try:
            await self._release_recipient(keys=[self._recipient_key(sender, recipient)], args=[send_key])
        except RedisError as exc:
            log.warning("pacing: could not free the slot of %s held by send %s: %s", recipient, send_key, exc)

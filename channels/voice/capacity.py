"""Call slots in Redis, shared by every worker: concurrent calls per tenant and overall, paced per tenant.

A slot is a lease: a member of the tenant's and the global `active` sorted sets whose score is its expiry. The call's
workflow renews it while the call lives and releases it on every way out; a crashed worker's lease expires by
itself within the TTL. Nothing ever needs cleaning by hand.

Waiting is first come, first served per tenant and fair across tenants:
- A call that asks and gets no slot joins its tenant's `waiting` set, scored by a ticket Redis hands out when it
  first asks (kept while it keeps asking: a waiter silent for `waiter_ttl` is dropped). Only the tenant's earliest
  waiter may take a slot.
- When fewer global slots are free than tenants waiting for one, a tenant may take the next slot only if no other
  waiting tenant (with room under its own limit) has fewer calls running: tenants get slots in turn, not in
  proportion to how many calls they queued.
- Pacing: one tenant places at most `calls_per_second` calls a second (Twilio's default account rate is 1).

`acquire` never sleeps: it answers granted, or how long to wait before asking again. One Lua script does the whole
decision atomically (it reads other tenants' keys, so it needs one Redis node, not a cluster).
"""

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from core.redis import Keys

_ACQUIRE = """
local tenant, call = ARGV[1], ARGV[2]
local limit, global_limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local now, ttl, waiter_ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local interval = tonumber(ARGV[8])
local prefix = ARGV[9]
local function k(...) return prefix .. ':' .. table.concat({...}, ':') end
local active, waiting, seen = k('active', tenant), k('waiting', tenant), k('seen', tenant)
local global_active, tenants, pace = k('active'), k('waiting_tenants'), k('pace', tenant)
local member = tenant .. ':' .. call

local function purge(t)
  redis.call('ZREMRANGEBYSCORE', k('active', t), '-inf', now)
  local gone = redis.call('ZRANGEBYSCORE', k('seen', t), '-inf', now - waiter_ttl)
  for _, w in ipairs(gone) do
    redis.call('ZREM', k('waiting', t), w)
    redis.call('ZREM', k('seen', t), w)
  end
  if redis.call('ZCARD', k('waiting', t)) == 0 then redis.call('ZREM', tenants, t) end
end
redis.call('ZREMRANGEBYSCORE', global_active, '-inf', now)
purge(tenant)

if redis.call('ZSCORE', active, call) then
  redis.call('ZADD', active, now + ttl, call)
  redis.call('ZADD', global_active, now + ttl, member)
  return {1, 0}
end

-- A ticket from Redis itself orders the line: the callers' clocks may differ or tie.
if not redis.call('ZSCORE', waiting, call) then
  redis.call('ZADD', waiting, redis.call('INCR', k('tickets')), call)
end
redis.call('ZADD', seen, now, call)
redis.call('ZADD', tenants, now, tenant)

local head = redis.call('ZRANGE', waiting, 0, 0)[1]
if head ~= call then return {0, 200} end
local mine = redis.call('ZCARD', active)
if mine >= limit then return {0, 500} end
local free = global_limit - redis.call('ZCARD', global_active)
if free <= 0 then return {0, 300} end
-- Fewer free slots than tenants waiting for one: the tenant running the fewest calls goes first.
local contenders, fewest = 1, mine
for _, other in ipairs(redis.call('ZRANGE', tenants, 0, -1)) do
  if other ~= tenant then
    purge(other)
    if redis.call('ZCARD', k('waiting', other)) > 0 then
      local theirs = redis.call('ZCARD', k('active', other))
      local their_limit = tonumber(redis.call('HGET', k('limits'), other) or '0')
      if theirs < their_limit then
        contenders = contenders + 1
        if theirs < fewest then fewest = theirs end
      end
    end
  end
end
if free < contenders and fewest < mine then return {0, 100} end
-- Pacing in whole milliseconds (the clock's resolution); a rate above 1000/s is not held back.
local next_at = tonumber(redis.call('GET', pace) or '0')
if now < next_at then return {0, math.ceil(next_at - now)} end
if interval >= 1 then
  redis.call('SET', pace, math.floor(now + interval), 'PX', math.ceil(interval) + 1000)
end
redis.call('ZREM', waiting, call)
redis.call('ZREM', seen, call)
if redis.call('ZCARD', waiting) == 0 then redis.call('ZREM', tenants, tenant) end
redis.call('ZADD', active, now + ttl, call)
redis.call('ZADD', global_active, now + ttl, member)
return {1, 0}
"""

_RENEW = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class SlotAnswer:
    granted: bool
    retry_after_ms: int


class CallCapacity:
    def __init__(
        self, redis: Redis, keys: Keys, *, global_limit: int, lease_seconds: float, waiter_ttl_seconds: float
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._global_limit = global_limit
        self._lease_ms = int(lease_seconds * 1000)
        self._waiter_ttl_ms = int(waiter_ttl_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def _k(self, *parts: object) -> str:
        return self._keys("call_slots", *parts)

    async def acquire(
        self, *, tenant_id: uuid.UUID, call_id: uuid.UUID, limit: int, calls_per_second: float
    ) -> SlotAnswer:
        # The tenant's limit is published for the fairness check of other tenants' waiters.
        await self._redis.hset(self._k("limits"), str(tenant_id), str(limit))  # type: ignore[misc]
        interval_ms = 1000.0 / calls_per_second if calls_per_second > 0 else 0.0
        granted, retry_after = await self._acquire(
            keys=[],
            args=[
                str(tenant_id),
                str(call_id),
                limit,
                self._global_limit,
                _now_ms(),
                self._lease_ms,
                self._waiter_ttl_ms,
                interval_ms,
                self._k(),
            ],
        )
        return SlotAnswer(granted=bool(granted), retry_after_ms=int(retry_after))

    async def renew(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        held = await self._renew(
            keys=[self._k("active", tenant_id), self._k("active")],
            args=[str(call_id), f"{tenant_id}:{call_id}", _now_ms() + self._lease_ms],
        )
        return bool(held)

    async def release(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> None:
        await self._release(
            keys=[
                self._k("active", tenant_id),
                self._k("active"),
                self._k("waiting", tenant_id),
                self._k("seen", tenant_id),
            ],
            args=[str(call_id), f"{tenant_id}:{call_id}"],
        )

    async def active(self, *, tenant_id: uuid.UUID | None = None) -> int:
        """Leases alive now, for one tenant or overall."""
        key = self._k("active", tenant_id) if tenant_id else self._k("active")
        return int(await self._redis.zcount(key, _now_ms(), "+inf"))


def _now_ms() -> int:
    return int(time.time() * 1000)

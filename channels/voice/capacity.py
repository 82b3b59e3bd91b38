"""Call slots in Redis, shared by every worker: concurrent calls per tenant and overall, paced per tenant.

A slot is a lease: a member of the tenant's and the global `active` sorted sets whose score is its expiry. The call's
workflow renews it while the call lives and releases it on every way out; a crashed worker's lease expires by
itself within the TTL. Nothing ever needs cleaning by hand.

Waiting is first come, first served per tenant and fair across tenants:
- A call that asks and gets no slot joins its tenant's `waiting` set, scored by a ticket Redis hands out when it
  first asks (kept while it keeps asking: a waiter silent for `waiter_ttl` is dropped). The tenant's first waiters,
  as many as it has room for, may take a slot, in whatever order their questions arrive; a later waiter never takes
  a slot an earlier one needs. Several freed slots are thus taken at once, not one waiter's round trip after another.
- When fewer global slots are free than the waiting tenants have room for, the free slots go to the tenants running
  the fewest calls first (level by level): tenants get slots in turn, not in proportion to how many calls they
  queued.
- Pacing: one tenant places at most `calls_per_second` calls a second (Twilio's default account rate is 1).

`acquire` never sleeps: it answers granted, or why not and how long to wait before asking again. A waiter does not
poll: it names its workflow when it asks, and whatever may let a waiter through (a release, a grant that leaves room
behind it, an expired lease found on the way) returns the workflows of the waiters that would now get a slot, for
the caller to wake (channels/voice/slots.py); a woken waiter is not woken again until it has asked (or a while has
passed). Only pacing is a known wait (`reason` `pace`, `retry_after_ms`); every other refusal is worth asking again
only when woken, or after a slow fallback that also keeps the waiter in line. One Lua script does each decision
atomically (they read other tenants' keys, so they need one Redis node, not a cluster).
"""

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from core.redis import Keys

# Shared by both scripts: key names, purging expired leases and silent waiters, the admission rule, and the
# first waiters it would now let through (`wakeable`). ARGV[1] is the key prefix, ARGV[2] the time in ms, ARGV[3]
# the global limit, ARGV[4] the waiter TTL in ms.
_COMMON = """
local prefix, now = ARGV[1], tonumber(ARGV[2])
local global_limit, waiter_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
-- A woken waiter is not woken again for this long unless it asks meanwhile (its workflow is on its way).
local rewake_ms = 10000
local function k(...) return prefix .. ':' .. table.concat({...}, ':') end
local global_active, tenants = k('active'), k('waiting_tenants')

-- Leases and waiters purged by this script: a refusal that purged any wakes whoever that lets through.
local purged = 0
local function purge(t)
  local expired = redis.call('ZREMRANGEBYSCORE', k('active', t), '-inf', now)
  local gone = redis.call('ZRANGEBYSCORE', k('seen', t), '-inf', now - waiter_ttl)
  purged = purged + expired + #gone
  for _, w in ipairs(gone) do
    redis.call('ZREM', k('waiting', t), w)
    redis.call('ZREM', k('seen', t), w)
    redis.call('HDEL', k('wake', t), w)
    redis.call('HDEL', k('woken', t), w)
  end
  if redis.call('ZCARD', k('waiting', t)) == 0 then redis.call('ZREM', tenants, t) end
  return expired
end

local function limit_of(t)
  return tonumber(redis.call('HGET', k('limits'), t) or '0')
end

-- How many of each waiting tenant's first waiters may take a slot now: each tenant wants as many as it has room
-- for under its own limit and waiters for; when the free global slots cannot cover every want, they go to the
-- tenants running the fewest calls first (filled level by level; a slot left over at the last level goes to the
-- tenant whose first waiter has waited longest). Other waiting tenants are purged on the way.
local function shares()
  local free = global_limit - redis.call('ZCARD', global_active)
  local given, wants, total = {}, {}, 0
  if free <= 0 then return given, free end
  for _, t in ipairs(redis.call('ZRANGE', tenants, 0, -1)) do
    purge(t)
    local waiting = redis.call('ZCARD', k('waiting', t))
    if waiting > 0 then
      local mine = redis.call('ZCARD', k('active', t))
      local want = math.min(limit_of(t) - mine, waiting)
      if want > 0 then
        local head = redis.call('ZRANGE', k('waiting', t), 0, 0, 'WITHSCORES')
        table.insert(wants, {t, mine, want, tonumber(head[2])})
        total = total + want
      end
    end
  end
  if total <= free then
    for _, w in ipairs(wants) do given[w[1]] = w[3] end
    return given, free
  end
  -- The highest level (calls running) every contender can be raised to with the free slots.
  local function filled(level)
    local sum = 0
    for _, w in ipairs(wants) do sum = sum + math.max(0, math.min(level - w[2], w[3])) end
    return sum
  end
  local low, high = 0, 0
  for _, w in ipairs(wants) do high = math.max(high, w[2] + w[3]) end
  while low < high do
    local mid = math.floor((low + high + 1) / 2)
    if filled(mid) <= free then low = mid else high = mid - 1 end
  end
  local left = free - filled(low)
  table.sort(wants, function(a, b) return a[4] < b[4] end)
  for _, w in ipairs(wants) do
    local t, mine, want = w[1], w[2], w[3]
    local share = math.max(0, math.min(low - mine, want))
    if left > 0 and share < want and mine + share == low then
      share = share + 1
      left = left - 1
    end
    given[t] = share
  end
  return given, free
end

-- Why the waiter at `position` (0: first) in tenant t's line may not take a slot now, pacing aside (false: it may).
local function refusal(t, limit, position)
  local mine = redis.call('ZCARD', k('active', t))
  if position >= math.max(1, limit - mine) then return 'line' end
  if mine >= limit then return 'full' end
  local given, free = shares()
  if free <= 0 then return 'global' end
  if position >= (given[t] or 0) then return 'turn' end
  return false
end

-- The waiters that would now get a slot (each tenant's first ones, as many as its share), but `except` and those
-- woken in the last `rewake_ms` that have not asked since: 'tenant call workflow' each.
local function wakeable(except)
  local out = {}
  local given = shares()
  for t, share in pairs(given) do
    if share > 0 then
      for _, call in ipairs(redis.call('ZRANGE', k('waiting', t), 0, share - 1)) do
        local woken = tonumber(redis.call('HGET', k('woken', t), call) or '-1')
        if call ~= except and (woken < 0 or woken <= now - rewake_ms) then
          local workflow_id = redis.call('HGET', k('wake', t), call)
          if workflow_id then
            table.insert(out, t .. ' ' .. call .. ' ' .. workflow_id)
            redis.call('HSET', k('woken', t), call, now)
          end
        end
      end
    end
  end
  return out
end
"""

# ARGV[5..]: tenant, call, its tenant's limit, lease TTL ms, pacing interval ms, the asking workflow ('' for none).
# Returns {granted, retry_after_ms, reason, workflows to wake...}.
_ACQUIRE_STEPS = """
local tenant, call = ARGV[5], ARGV[6]
local limit, ttl, interval, workflow_id = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local active, waiting, seen, pace = k('active', tenant), k('waiting', tenant), k('seen', tenant), k('pace', tenant)
local member = tenant .. ':' .. call

local expired = redis.call('ZREMRANGEBYSCORE', global_active, '-inf', now) + purge(tenant)

local function granted()
  redis.call('ZADD', active, now + ttl, call)
  redis.call('ZADD', global_active, now + ttl, member)
  return {1, 0, 'granted', unpack(wakeable(call))}
end

if redis.call('ZSCORE', active, call) then return granted() end

-- A ticket from Redis itself orders the line: the callers' clocks may differ or tie.
if not redis.call('ZSCORE', waiting, call) then
  redis.call('ZADD', waiting, redis.call('INCR', k('tickets')), call)
end
redis.call('ZADD', seen, now, call)
redis.call('ZADD', tenants, now, tenant)
if workflow_id ~= '' then redis.call('HSET', k('wake', tenant), call, workflow_id) end

local function refused(retry_after, reason)
  if expired > 0 or purged > 0 then return {0, retry_after, reason, unpack(wakeable(call))} end
  return {0, retry_after, reason}
end

redis.call('HDEL', k('woken', tenant), call)
local why = refusal(tenant, limit, redis.call('ZRANK', waiting, call))
if why == 'line' then return refused(200, why) end
if why == 'full' then return refused(500, why) end
if why == 'global' then return refused(300, why) end
if why == 'turn' then return refused(100, why) end
-- Pacing in whole milliseconds (the clock's resolution); a rate above 1000/s is not held back.
local next_at = tonumber(redis.call('GET', pace) or '0')
if now < next_at then return refused(math.ceil(next_at - now), 'pace') end
if interval >= 1 then
  redis.call('SET', pace, math.floor(now + interval), 'PX', math.ceil(interval) + 1000)
end
redis.call('ZREM', waiting, call)
redis.call('ZREM', seen, call)
redis.call('HDEL', k('wake', tenant), call)
if redis.call('ZCARD', waiting) == 0 then redis.call('ZREM', tenants, tenant) end
return granted()
"""

_RENEW = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  return 1
end
return 0
"""

# ARGV[5..]: tenant, call. Returns the workflows to wake.
_RELEASE_STEPS = """
local tenant, call = ARGV[5], ARGV[6]
redis.call('ZREM', k('active', tenant), call)
redis.call('ZREM', global_active, tenant .. ':' .. call)
redis.call('ZREM', k('waiting', tenant), call)
redis.call('ZREM', k('seen', tenant), call)
redis.call('HDEL', k('wake', tenant), call)
redis.call('HDEL', k('woken', tenant), call)
redis.call('ZREMRANGEBYSCORE', global_active, '-inf', now)
return wakeable('')
"""


@dataclass(frozen=True, slots=True)
class Waiter:
    """A call among the first in its tenant's line that would now get a slot, and the workflow to wake for it."""

    tenant_id: uuid.UUID
    call_id: uuid.UUID
    workflow_id: str


@dataclass(frozen=True, slots=True)
class SlotAnswer:
    """`granted`, or why not (`reason`: `line` behind an earlier waiter of the tenant, `full` at the tenant's
    limit, `global` at the global limit, `turn` another tenant's turn, `pace` the account's rate) and when asking
    again could help; `wake`: other waiters that would now get a slot."""

    granted: bool
    retry_after_ms: int
    reason: str = "granted"
    wake: tuple[Waiter, ...] = ()


class CallCapacity:
    def __init__(
        self, redis: Redis, keys: Keys, *, global_limit: int, lease_seconds: float, waiter_ttl_seconds: float
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._global_limit = global_limit
        self._lease_ms = int(lease_seconds * 1000)
        self._waiter_ttl_ms = int(waiter_ttl_seconds * 1000)
        self._acquire = redis.register_script(_COMMON + _ACQUIRE_STEPS)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_COMMON + _RELEASE_STEPS)

    def _k(self, *parts: object) -> str:
        return self._keys("call_slots", *parts)

    def _common(self) -> list[str | int | float]:
        return [self._k(), _now_ms(), self._global_limit, self._waiter_ttl_ms]

    async def acquire(
        self,
        *,
        tenant_id: uuid.UUID,
        call_id: uuid.UUID,
        limit: int,
        calls_per_second: float,
        workflow_id: str | None = None,
    ) -> SlotAnswer:
        """Take a slot for the call, or join (or keep its place in) the tenant's line; `workflow_id` is whom a
        release wakes once this call may go."""
        # The tenant's limit is published for the fairness check of other tenants' waiters.
        await self._redis.hset(self._k("limits"), str(tenant_id), str(limit))  # type: ignore[misc]
        interval_ms = 1000.0 / calls_per_second if calls_per_second > 0 else 0.0
        granted, retry_after, reason, *wake = await self._acquire(
            keys=[],
            args=[
                *self._common(),
                str(tenant_id),
                str(call_id),
                limit,
                self._lease_ms,
                interval_ms,
                workflow_id or "",
            ],
        )
        return SlotAnswer(
            granted=bool(granted), retry_after_ms=int(retry_after), reason=_text(reason), wake=_waiters(wake)
        )

    async def renew(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        held = await self._renew(
            keys=[self._k("active", tenant_id), self._k("active")],
            args=[str(call_id), f"{tenant_id}:{call_id}", _now_ms() + self._lease_ms],
        )
        return bool(held)

    async def release(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> tuple[Waiter, ...]:
        """Free the call's slot (or its place in line); the waiters that would now get a slot."""
        wake = await self._release(keys=[], args=[*self._common(), str(tenant_id), str(call_id)])
        return _waiters(wake)

    async def not_woken(self, waiters: tuple[Waiter, ...]) -> None:
        """Forget that these waiters were woken (their signal did not go out): the next release names them again."""
        if not waiters:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for waiter in waiters:
                pipe.hdel(self._k("woken", waiter.tenant_id), str(waiter.call_id))
            await pipe.execute()

    async def active(self, *, tenant_id: uuid.UUID | None = None) -> int:
        """Leases alive now, for one tenant or overall."""
        key = self._k("active", tenant_id) if tenant_id else self._k("active")
        return int(await self._redis.zcount(key, _now_ms(), "+inf"))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _waiters(values: list[str | bytes]) -> tuple[Waiter, ...]:
    waiters = []
    for value in values:
        tenant_id, call_id, workflow_id = _text(value).split(" ", 2)
        waiters.append(Waiter(uuid.UUID(tenant_id), uuid.UUID(call_id), workflow_id))
    return tuple(waiters)


def _now_ms() -> int:
    return int(time.time() * 1000)

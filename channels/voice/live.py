"""Live call state in Redis for the UI: per tenant, the calls ringing or in progress, and on which agent.

One hash per tenant (`calls_live:<tenant>`), one field per call holding its state as JSON. Written by the dispatcher
as status callbacks move a call forward and by the workflow's mirror; a call's field is removed when it ends. An
entry not refreshed for `stale_after` (a call whose end was never heard) is skipped and dropped by the next read.
"""

import json
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from core.redis import Keys

TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


class LiveCalls:
    def __init__(self, redis: Redis, keys: Keys, *, stale_after_seconds: float = 4 * 3600) -> None:
        self._redis = redis
        self._keys = keys
        self._stale_after = stale_after_seconds

    def _key(self, tenant_id: uuid.UUID) -> str:
        return self._keys("calls_live", tenant_id)

    async def update(
        self,
        *,
        tenant_id: uuid.UUID,
        call_id: uuid.UUID | str,
        lead_id: uuid.UUID,
        status: str,
        agent_id: uuid.UUID | None = None,
        direction: str | None = None,
    ) -> None:
        key, field = self._key(tenant_id), str(call_id)
        if status in TERMINAL:
            await self._redis.hdel(key, field)  # type: ignore[misc]
            return
        current = await self._redis.hget(key, field)  # type: ignore[misc]
        state: dict[str, Any] = json.loads(current) if current else {"since": time.time()}
        state.update({"call_id": field, "lead_id": str(lead_id), "status": status, "updated": time.time()})
        if agent_id is not None:
            state["agent_id"] = str(agent_id)
        if direction is not None:
            state["direction"] = direction
        await self._redis.hset(key, field, json.dumps(state))  # type: ignore[misc]

    async def list(self, *, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
        key = self._key(tenant_id)
        entries = await self._redis.hgetall(key)  # type: ignore[misc]
        now, alive, stale = time.time(), [], []
        for field, raw in entries.items():
            state = json.loads(raw)
            if now - float(state.get("updated", 0)) > self._stale_after:
                stale.append(field)
            else:
                alive.append(state)
        if stale:
            await self._redis.hdel(key, *stale)  # type: ignore[misc]
        return sorted(alive, key=lambda s: s.get("since", 0))

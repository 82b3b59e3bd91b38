"""Freeing a call's slot and waking the calls that may take it now, for everyone who frees one: the call's own
workflow on every way out (activities/calls.py) and the dispatcher as soon as Twilio reports the call over
(channels/voice/callbacks.py), whichever comes first. Freeing twice is harmless: the second finds nothing to free.
"""

import uuid

from redis.asyncio import Redis
from temporalio.client import Client

from channels.voice.capacity import CallCapacity, Waiter
from core.config import Settings
from core.redis import Keys
from workflow_clients.call import CallWorkflowClient

# A woken waiter whose workflow is gone gives up its place, which may let another through: a few rounds, then the
# fallback question of the waiters covers the rest.
WAKE_ROUNDS = 3


def call_capacity(redis: Redis, settings: Settings) -> CallCapacity:
    """The slots as the settings size them (one definition for every process that takes or frees one)."""
    return CallCapacity(
        redis,
        Keys(settings.redis_prefix),
        global_limit=settings.call_global_concurrent_limit,
        lease_seconds=settings.call_slot_lease_seconds,
        waiter_ttl_seconds=settings.call_slot_waiter_ttl_seconds,
    )


class SlotWaker:
    def __init__(self, capacity: CallCapacity, temporal: Client | None) -> None:
        self.capacity = capacity
        self._temporal = temporal

    async def release(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> None:
        """Free the call's slot (or its place in line) and wake whoever may take it now."""
        await self.wake(await self.capacity.release(tenant_id=tenant_id, call_id=call_id))

    async def wake(self, waiters: tuple[Waiter, ...]) -> None:
        """Wake the waiters; a waiter whose workflow is gone (terminated in line) gives up its place, and whoever
        that lets through is woken in turn. A waiter left unsignalled (not reached, or past the last round) is marked
        not woken, so the next release or question names it again."""
        if not waiters:
            return
        if self._temporal is None:
            await self.capacity.not_woken(waiters)
            return
        unsignalled: list[Waiter] = []
        for _ in range(WAKE_ROUNDS):
            gone, unreached = map(
                set, await CallWorkflowClient(self._temporal).wake([waiter.workflow_id for waiter in waiters])
            )
            unsignalled += [waiter for waiter in waiters if waiter.workflow_id in unreached]
            freed: list[Waiter] = []
            for waiter in waiters:
                if waiter.workflow_id in gone:
                    freed += await self.capacity.release(tenant_id=waiter.tenant_id, call_id=waiter.call_id)
            waiters = tuple(freed)
            if not waiters:
                break
        await self.capacity.not_woken((*unsignalled, *waiters))

"""Call slots in Redis: limits per tenant and overall never exceeded, first come first served per tenant, fair
across tenants, paced, and a dead holder's slot freeing itself."""

import asyncio
import uuid

from redis.asyncio import Redis

from channels.voice.capacity import CallCapacity, SlotAnswer, Waiter
from core.config import Settings
from core.redis import Keys


def _capacity(redis: Redis, settings: Settings, *, global_limit: int, lease_seconds: float = 30) -> CallCapacity:
    keys = Keys(f"{settings.redis_prefix}:{uuid.uuid4().hex[:8]}")
    return CallCapacity(redis, keys, global_limit=global_limit, lease_seconds=lease_seconds, waiter_ttl_seconds=30)


async def test_a_hundred_attempts_over_five_tenants_never_exceed_the_limits(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=18)
    tenants = [uuid.uuid4() for _ in range(5)]
    limit = 4
    running = {t: 0 for t in tenants}
    peak = {t: 0 for t in tenants}
    peak_total = 0
    granted_order: dict[uuid.UUID, list[int]] = {t: [] for t in tenants}

    calls = [uuid.uuid4() for _ in range(100)]
    first_answers = [
        await capacity.acquire(tenant_id=tenants[i % 5], call_id=calls[i], limit=limit, calls_per_second=1_000_000)
        for i in range(100)
    ]  # everyone asks once, in a known order; then all of them at once until served

    async def attempt(tenant: uuid.UUID, number: int) -> None:
        nonlocal peak_total
        call = calls[number]
        answer = first_answers[number]
        for _ in range(100_000):
            if answer.granted:
                break
            await asyncio.sleep(answer.retry_after_ms / 1000 / 10)
            answer = await capacity.acquire(tenant_id=tenant, call_id=call, limit=limit, calls_per_second=1_000_000)
        granted_order[tenant].append(number)
        running[tenant] += 1
        peak[tenant] = max(peak[tenant], running[tenant])
        peak_total = max(peak_total, sum(running.values()))
        await asyncio.sleep(0.02)
        running[tenant] -= 1
        await capacity.release(tenant_id=tenant, call_id=call)

    await asyncio.wait_for(asyncio.gather(*(attempt(tenants[i % 5], i) for i in range(100))), timeout=120)

    assert max(peak.values()) <= limit and peak_total <= 18
    assert max(peak.values()) == limit  # the limit is reached, not just respected
    assert sorted(n for order in granted_order.values() for n in order) == list(range(100))
    assert await capacity.active() == 0


async def test_a_tenants_waiting_calls_are_served_first_come_first_served(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=100)
    tenant = uuid.uuid4()
    first, second, third = (uuid.uuid4() for _ in range(3))

    async def ask(call: uuid.UUID) -> bool:
        return (await capacity.acquire(tenant_id=tenant, call_id=call, limit=1, calls_per_second=1_000_000)).granted

    assert await ask(first)
    assert not await ask(second) and not await ask(third)  # in line: second, then third
    await capacity.release(tenant_id=tenant, call_id=first)
    assert not await ask(third)  # a slot is free, but the second call came first
    assert await ask(second)
    await capacity.release(tenant_id=tenant, call_id=second)
    assert await ask(third)


async def test_tenants_take_scarce_global_slots_in_turn(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=2)
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    first, second, busy_waiter, quiet_waiter = (uuid.uuid4() for _ in range(4))

    async def ask(tenant: uuid.UUID, call: uuid.UUID) -> bool:
        return (await capacity.acquire(tenant_id=tenant, call_id=call, limit=10, calls_per_second=1_000_000)).granted

    assert await ask(busy, first) and await ask(busy, second)
    assert not await ask(quiet, quiet_waiter)  # the global capacity is full: both wait
    assert not await ask(busy, busy_waiter)
    await capacity.release(tenant_id=busy, call_id=first)

    # One slot free, two tenants waiting: the busy tenant (one call running) lets the quiet one (none) go first.
    assert not await ask(busy, busy_waiter)
    assert await ask(quiet, quiet_waiter)
    await capacity.release(tenant_id=quiet, call_id=quiet_waiter)
    assert await ask(busy, busy_waiter)


async def test_calls_are_paced_to_the_accounts_rate(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=100)
    tenant = uuid.uuid4()
    first = await capacity.acquire(tenant_id=tenant, call_id=uuid.uuid4(), limit=10, calls_per_second=0.5)
    second = await capacity.acquire(tenant_id=tenant, call_id=uuid.uuid4(), limit=10, calls_per_second=0.5)
    assert first.granted and not second.granted
    assert 1000 < second.retry_after_ms <= 2000  # slots are free: only the pace holds it back


async def test_a_slot_nobody_renews_frees_itself(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=1, lease_seconds=0.3)
    tenant = uuid.uuid4()
    crashed, next_call = uuid.uuid4(), uuid.uuid4()
    assert (await capacity.acquire(tenant_id=tenant, call_id=crashed, limit=1, calls_per_second=1_000_000)).granted
    assert not (
        await capacity.acquire(tenant_id=tenant, call_id=next_call, limit=1, calls_per_second=1_000_000)
    ).granted
    for _ in range(200):
        if (await capacity.acquire(tenant_id=tenant, call_id=next_call, limit=1, calls_per_second=1_000_000)).granted:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the dead holder's lease never expired")
    assert not await capacity.renew(tenant_id=tenant, call_id=crashed)  # the crashed call lost it


async def test_a_release_names_the_first_waiter_that_now_gets_the_slot(redis: Redis, settings: Settings) -> None:
    """Waiters do not poll: the release returns the workflow to wake, the first in line and only it; a grant that
    leaves room behind it names the next one."""
    capacity = _capacity(redis, settings, global_limit=100)
    tenant = uuid.uuid4()
    running, first, second = (uuid.uuid4() for _ in range(3))

    async def ask(call: uuid.UUID, limit: int = 1) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=limit, calls_per_second=1_000_000, workflow_id=f"wf-{call}"
        )

    assert (await ask(running)).granted
    assert (await ask(first)).reason == "full"
    assert (await ask(second)).reason == "line"
    assert await capacity.release(tenant_id=tenant, call_id=running) == (Waiter(tenant, first, f"wf-{first}"),)
    # The tenant's limit rose meanwhile: the first waiter's grant leaves room, so it names the second.
    assert await ask(first, limit=2) == SlotAnswer(
        granted=True, retry_after_ms=0, wake=(Waiter(tenant, second, f"wf-{second}"),)
    )
    assert (await ask(second, limit=2)).granted
    assert await capacity.release(tenant_id=tenant, call_id=first) == ()  # nobody left waiting


async def test_a_release_under_a_full_global_limit_wakes_the_tenant_whose_turn_it_is(
    redis: Redis, settings: Settings
) -> None:
    capacity = _capacity(redis, settings, global_limit=2)
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    first, second, busy_waiter, quiet_waiter = (uuid.uuid4() for _ in range(4))

    async def ask(tenant: uuid.UUID, call: uuid.UUID) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=10, calls_per_second=1_000_000, workflow_id=f"wf-{call}"
        )

    assert (await ask(busy, first)).granted and (await ask(busy, second)).granted
    assert (await ask(quiet, quiet_waiter)).reason == "global"
    assert (await ask(busy, busy_waiter)).reason == "global"
    # One slot free, two tenants waiting: only the quiet tenant (no call running) is woken.
    assert await capacity.release(tenant_id=busy, call_id=first) == (Waiter(quiet, quiet_waiter, f"wf-{quiet_waiter}"),)
    assert (await ask(busy, busy_waiter)).reason == "turn"
    assert (await ask(quiet, quiet_waiter)).granted
    assert await capacity.release(tenant_id=quiet, call_id=quiet_waiter) == (
        Waiter(busy, busy_waiter, f"wf-{busy_waiter}"),
    )


async def test_an_expired_lease_found_by_a_question_wakes_the_first_waiter(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=10, lease_seconds=0.2)
    tenant = uuid.uuid4()
    crashed, waiter, latecomer = (uuid.uuid4() for _ in range(3))

    async def ask(call: uuid.UUID) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=1, calls_per_second=1_000_000, workflow_id=f"wf-{call}"
        )

    assert (await ask(crashed)).granted
    assert (await ask(waiter)).reason == "full"
    await asyncio.sleep(0.3)  # the crashed call's lease runs out; nothing released it
    assert await ask(latecomer) == SlotAnswer(
        granted=False, retry_after_ms=200, reason="line", wake=(Waiter(tenant, waiter, f"wf-{waiter}"),)
    )


async def test_slots_freed_together_are_taken_together_by_the_first_waiters(redis: Redis, settings: Settings) -> None:
    """Each freed slot wakes a waiter of its own: the third waiter need not wait for the first two to ask, and the
    waiters past the room stay in line."""
    capacity = _capacity(redis, settings, global_limit=100)
    tenant = uuid.uuid4()
    running = [uuid.uuid4() for _ in range(3)]
    waiters = [uuid.uuid4() for _ in range(4)]

    async def ask(call: uuid.UUID) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=3, calls_per_second=1_000_000, workflow_id=f"wf-{call}"
        )

    assert all([(await ask(call)).granted for call in running])
    assert [(await ask(call)).reason for call in waiters] == ["full", "line", "line", "line"]
    woken = [await capacity.release(tenant_id=tenant, call_id=call) for call in running]
    # One more waiter per freed slot; none woken twice while it has not asked yet.
    assert woken == [(Waiter(tenant, call, f"wf-{call}"),) for call in waiters[:3]]
    assert (await ask(waiters[3])).reason == "line"  # three slots, three waiters before it
    assert (await ask(waiters[2])).granted  # the third need not wait for the first two
    assert (await ask(waiters[0])).granted and (await ask(waiters[1])).granted
    assert (await ask(waiters[3])).reason == "full"


async def test_a_woken_waiter_is_woken_again_only_once_it_has_asked(redis: Redis, settings: Settings) -> None:
    capacity = _capacity(redis, settings, global_limit=10)
    tenant = uuid.uuid4()
    holder, waiter, gave_up, also_gave_up = (uuid.uuid4() for _ in range(4))

    async def ask(call: uuid.UUID) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=1, calls_per_second=0.01, workflow_id=f"wf-{call}"
        )

    assert (await ask(holder)).granted
    assert (await ask(waiter)).reason == "full"
    assert await capacity.release(tenant_id=tenant, call_id=holder) == (Waiter(tenant, waiter, f"wf-{waiter}"),)
    # Its workflow is on its way: another release (here, of a call that never got a slot) does not signal it again.
    assert await capacity.release(tenant_id=tenant, call_id=gave_up) == ()
    assert (await ask(waiter)).reason == "pace"  # asked, and the account's rate holds it back
    woken = await capacity.release(tenant_id=tenant, call_id=also_gave_up)
    assert woken == (Waiter(tenant, waiter, f"wf-{waiter}"),)
    # Its signal did not go out (Temporal away): marked not woken, the next release names it again.
    await capacity.not_woken(woken)
    assert await capacity.release(tenant_id=tenant, call_id=uuid.uuid4()) == woken


async def test_scarce_global_slots_go_level_by_level_to_the_tenants_running_fewest(
    redis: Redis, settings: Settings
) -> None:
    capacity = _capacity(redis, settings, global_limit=4)
    busy, quiet = uuid.uuid4(), uuid.uuid4()
    holders = [uuid.uuid4() for _ in range(4)]
    busy_waiters = [uuid.uuid4() for _ in range(3)]
    quiet_waiters = [uuid.uuid4() for _ in range(3)]

    async def ask(tenant: uuid.UUID, call: uuid.UUID) -> SlotAnswer:
        return await capacity.acquire(
            tenant_id=tenant, call_id=call, limit=10, calls_per_second=1_000_000, workflow_id=f"wf-{call}"
        )

    assert all([(await ask(busy, call)).granted for call in holders])
    for call in busy_waiters:
        assert (await ask(busy, call)).reason == "global"
    for call in quiet_waiters:
        assert (await ask(quiet, call)).reason == "global"
    woken = [await capacity.release(tenant_id=busy, call_id=call) for call in holders[:3]]
    # Three free slots, busy running 1 and quiet 0: quiet is raised to 1, then both to 2.
    assert [[waiter.call_id for waiter in round_] for round_ in woken] == [
        [quiet_waiters[0]],
        [quiet_waiters[1]],
        [busy_waiters[0]],
    ]
    assert (await ask(quiet, quiet_waiters[2])).reason == "turn"
    assert (await ask(busy, busy_waiters[1])).reason == "turn"
    assert (await ask(quiet, quiet_waiters[1])).granted and (await ask(quiet, quiet_waiters[0])).granted
    assert (await ask(busy, busy_waiters[0])).granted
    assert await capacity.active(tenant_id=busy) == 2 and await capacity.active(tenant_id=quiet) == 2

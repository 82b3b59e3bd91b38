"""Shard assignment: stable once made, spread evenly over the configured shards, moved only by `move`."""

import asyncio
import secrets
from collections import Counter

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.whatsapp.shard_router import ShardRouter
from core.config import EvolutionShard
from core.errors import ServiceUnavailable, Unprocessable
from tests.fixtures.whatsapp import create_whatsapp_tenant


def _shards(prefix: str, n: int) -> list[EvolutionShard]:
    # Names unique per test: the assignment table is shared by every test of the run.
    return [
        EvolutionShard(name=f"{prefix}-{i}", base_url=f"http://evo{i}.test", instance=f"inst-{i}", api_key=f"k{i}")
        for i in range(n)
    ]


async def _assign(router: ShardRouter, factory: async_sessionmaker[AsyncSession], tenant_id) -> str:  # type: ignore[no-untyped-def]
    async with factory() as session:
        shard = await router.shard_for(session, tenant_id=tenant_id)
        await session.commit()
        return shard.name


async def test_assignment_is_even_and_stable(session_factory: async_sessionmaker[AsyncSession]) -> None:

    router = ShardRouter(_shards(f"even-{secrets.token_hex(3)}", 3))
    tenants = [(await create_whatsapp_tenant(session_factory, provider="evolution")).id for _ in range(9)]
    # Assigned concurrently, as several API processes would.
    first = await asyncio.gather(*(_assign(router, session_factory, t) for t in tenants))
    assert sorted(Counter(first).values()) == [3, 3, 3]
    again = [await _assign(router, session_factory, t) for t in tenants]
    assert again == list(first)


async def test_move_changes_the_shard_and_it_stays_moved(session_factory: async_sessionmaker[AsyncSession]) -> None:

    shards = _shards(f"move-{secrets.token_hex(3)}", 2)
    router = ShardRouter(shards)
    tenant = (await create_whatsapp_tenant(session_factory, provider="evolution")).id
    before = await _assign(router, session_factory, tenant)
    target = next(s.name for s in shards if s.name != before)
    async with session_factory() as session:
        await router.move(session, tenant_id=tenant, shard_name=target)
        await session.commit()
    assert await _assign(router, session_factory, tenant) == target

    async with session_factory() as session:
        with pytest.raises(Unprocessable):
            await router.move(session, tenant_id=tenant, shard_name="no-such-shard")


async def test_no_shard_configured_is_a_clear_error(session_factory: async_sessionmaker[AsyncSession]) -> None:
    tenant = (await create_whatsapp_tenant(session_factory, provider="evolution")).id
    async with session_factory() as session:
        with pytest.raises(ServiceUnavailable, match="LEADFLOW_WHATSAPP_EVOLUTION_SHARDS"):
            await ShardRouter([]).shard_for(session, tenant_id=tenant)

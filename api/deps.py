"""Request dependencies as `Annotated` aliases: settings, DB session (commits or rolls back), Redis, Temporal.

The accessors are `async def` although they only read app state: FastAPI runs a sync dependency in its thread pool,
a thread hop per dependency per request that costs more CPU than the lookup (bench/webhook_inbound.py's profile).
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.openapi import raises
from core.config import Settings


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@raises(503)
async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when it raises.

    Handlers that start or signal a workflow commit explicitly first, so the row exists before the workflow does.
    """
    async with request.app.state.session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@raises(503)
async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


@raises(503)
async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit happens before the response is sent, so a failed commit is never answered 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RedisDep = Annotated[Redis, Depends(get_redis)]
TemporalDep = Annotated[Client, Depends(get_temporal)]

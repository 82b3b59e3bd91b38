"""What the activity classes that call a provider share: the worker process's one HTTP client and one Redis client,
made once (`for_process`) and closed once the worker stopped polling (`aclose`). Temporal owns retries, not httpx."""

from typing import Any, Self, TypedDict, Unpack

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.redis import create_redis
from providers.http import create_provider_http_client


class ProviderClients(TypedDict):
    """The keyword arguments of every provider activity class: `**clients: Unpack[ProviderClients]`."""

    session_factory: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    redis: Redis
    settings: Settings


class ProviderActivities:
    def __init__(self, **clients: Unpack[ProviderClients]) -> None:
        self._sessions = clients["session_factory"]
        self._http = clients["http"]
        self._redis = clients["redis"]
        self._settings = clients["settings"]

    @classmethod
    def for_process(cls, settings: Settings, session_factory: async_sessionmaker[AsyncSession], **extra: Any) -> Self:
        """`extra`: what the subclass needs besides (e.g. the feature-flag reader)."""
        return cls(
            session_factory=session_factory,
            http=create_provider_http_client(settings),
            redis=create_redis(settings),
            settings=settings,
            **extra,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._redis.aclose()

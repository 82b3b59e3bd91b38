"""What the activity classes that call a provider share: the worker process's one HTTP client and one Redis client,
made once (`for_process`) and closed once the worker stopped polling (`aclose`). Temporal owns retries, not httpx."""

from typing import Any, Self

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.redis import create_redis
from providers.http import create_provider_http_client


class ProviderActivities:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        redis: Redis,
        settings: Settings,
    ) -> None:
        self._sessions = session_factory
        self._http = http
        self._redis = redis
        self._settings = settings

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

"""Server-side login sessions in Redis: created at login, expiring after `session_ttl_seconds`, revocable.

The cookie carries a random session token; Redis keys carry only its SHA-256 digest, so a copy of Redis holds no
usable cookie. Each user has a set of their session digests so deactivation, a new role or a new password ends all
of them (a session keeps the role and tenant it was opened with, so a role change must end it).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import ServiceUnavailable
from core.redis import Keys
from core.security import new_token, token_digest
from domain.permissions import Role


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class SessionData:
    session_id: str  # the digest: what Redis and the Principal know the session by
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None
    role: Role
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the HttpOnly cookie, nowhere else
    csrf_token: str
    data: SessionData


class SessionStore:
    def __init__(self, redis: Redis, keys: Keys, ttl_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds

    def _session_key(self, session_id: str) -> str:
        return self.keys("session", session_id)

    def _user_key(self, user_id: uuid.UUID) -> str:
        return self.keys("user_sessions", user_id)

    async def create(self, *, user_id: uuid.UUID, tenant_id: uuid.UUID | None, role: Role | str) -> NewSession:
        token = new_token()
        csrf_token = new_token()
        session_id = token_digest(token)
        mapping: dict[Any, Any] = {
            "user_id": str(user_id),
            "tenant_id": str(tenant_id) if tenant_id else "",
            "role": str(role),
            "csrf": csrf_token,
            "created_at": datetime.now(UTC).isoformat(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._session_key(session_id), mapping=mapping)
            pipe.expire(self._session_key(session_id), self.ttl)
            pipe.sadd(self._user_key(user_id), session_id)
            # The index lives as long as the newest session it lists.
            pipe.expire(self._user_key(user_id), self.ttl)
            await pipe.execute()
        data = SessionData(session_id, user_id, tenant_id, Role(role), csrf_token)
        return NewSession(token=token, csrf_token=csrf_token, data=data)

    async def get(self, token: str) -> SessionData | None:
        """The live session behind a cookie value; None when unknown, expired or revoked."""
        session_id = token_digest(token)
        raw = await self.redis.hgetall(self._session_key(session_id))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "user_id" not in fields:
            return None
        return SessionData(
            session_id=session_id,
            user_id=uuid.UUID(fields["user_id"]),
            tenant_id=uuid.UUID(fields["tenant_id"]) if fields.get("tenant_id") else None,
            role=Role(fields["role"]),
            csrf_token=fields["csrf"],
        )

    async def revoke(self, *, session_id: str, user_id: uuid.UUID) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._session_key(session_id))
            pipe.srem(self._user_key(user_id), session_id)
            await pipe.execute()

    async def revoke_all(self, *, user_id: uuid.UUID) -> int:
        """End every session of a user; returns how many were live."""
        session_ids = [_text(s) for s in await self.redis.smembers(self._user_key(user_id))]
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id in session_ids:
                pipe.delete(self._session_key(session_id))
            pipe.delete(self._user_key(user_id))
            results = await pipe.execute()
        return sum(int(r) for r in results[:-1])

    async def revoke_others(self, *, user_id: uuid.UUID, keep_session_id: str) -> int:
        """End every session of a user but one (theirs, after they changed their own password)."""
        others = [_text(s) for s in await self.redis.smembers(self._user_key(user_id)) if _text(s) != keep_session_id]
        if not others:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for session_id in others:
                pipe.delete(self._session_key(session_id))
            pipe.srem(self._user_key(user_id), *others)
            results = await pipe.execute()
        return sum(int(r) for r in results[:-1])


@asynccontextmanager
async def session_store_reachable() -> AsyncIterator[None]:
    """Turn a Redis outage into a 503 that says so, instead of a bare 500."""
    try:
        yield
    except RedisError as exc:
        raise ServiceUnavailable(
            "the session store (Redis) is unreachable; try again shortly (API keys keep working)",
            headers={"Retry-After": "5"},
        ) from exc


def session_store(request: Request) -> SessionStore:
    """The store for this app (its Redis client, key prefix and session lifetime)."""
    settings = request.app.state.settings
    return SessionStore(request.app.state.redis, Keys(settings.redis_prefix), settings.session_ttl_seconds)

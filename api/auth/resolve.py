"""Resolve the caller of a request: `Authorization: Bearer <api key>` first, else the session cookie.

A request that sends an Authorization header is judged by it alone (a bad key is 401 even with a valid cookie), so
an integration never silently acts as whoever is logged in in the same browser. The result is cached on
`request.state` for the rest of the request. An API key is looked up in the request's own session (api/deps.py), so
its "last used" mark commits with the request (at once on a GET, whose session autocommits).

A key acts with the lower of its own role and its creator's current role, and stops working once its creator is
deactivated: demoting or deactivating a person also disarms the keys they made. A key created with another key is
recorded as created by that key's creator, so the same holds down a chain of keys. A key with no creator (made by no
person, or whose creator was deleted) keeps its role.
"""

import logging
import time
import uuid

from fastapi import Request
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.principal import Principal
from api.auth.sessions import session_store, session_store_reachable
from core import log_context
from core.config import Settings
from core.redis import Keys
from core.security import token_digest
from domain.permissions import Role, capped_role
from repositories.api_keys import ApiKeyRepository

# "last used" is for people auditing keys: a write per key per minute is enough and keeps hot keys off the row lock.
LAST_USED_RESOLUTION_SECONDS = 60
_UNRESOLVED = object()
log = logging.getLogger(__name__)


class RecentKeyUses:
    """The keys this process already marked used within the minute: an integration calling many times a second
    costs one Redis write a minute, not one per request. Redis still decides between processes."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._until: dict[uuid.UUID, float] = {}

    def claim(self, api_key_id: uuid.UUID) -> bool:
        """True the first time a key is seen in a window of `LAST_USED_RESOLUTION_SECONDS`."""
        now = time.monotonic()
        if self._until.get(api_key_id, 0.0) > now:
            return False
        if len(self._until) >= self.MAX_ENTRIES:
            self._until = {key: until for key, until in self._until.items() if until > now}
        self._until[api_key_id] = now + LAST_USED_RESOLUTION_SECONDS
        return True


async def _first_use_this_minute(request: Request, settings: Settings, api_key_id: uuid.UUID) -> bool:
    recent: RecentKeyUses = request.app.state.recent_key_uses
    if not recent.claim(api_key_id):
        return False
    marker = Keys(settings.redis_prefix)("api_key_used", api_key_id)
    try:
        return bool(await request.app.state.redis.set(marker, "1", ex=LAST_USED_RESOLUTION_SECONDS, nx=True))
    except RedisError as exc:
        # Keys live in PostgreSQL: integrations keep working while Redis is down, only "last used" lags.
        log.warning("cannot throttle last_used_at of API key %s: %s", api_key_id, exc)
        return False


async def _from_api_key(request: Request, session: AsyncSession, key: str) -> Principal | None:
    settings: Settings = request.app.state.settings
    repo = ApiKeyRepository(session)
    found = await repo.get_active_with_creator(token_digest(key))
    if found is None:
        return None
    api_key, creator = found
    role: Role | None = Role(api_key.role)
    if creator is not None:
        role = capped_role(api_key.role, creator.role) if creator.is_active else None
    if role is None:
        return None
    if await _first_use_this_minute(request, settings, api_key.id):
        await repo.touch(api_key.id)
    return Principal(
        role=role,
        tenant_id=api_key.tenant_id,
        user_id=None,
        api_key_id=api_key.id,
        via="api_key",
        api_key_creator_id=api_key.created_by_id,
    )


async def _from_session(request: Request, token: str) -> Principal | None:
    async with session_store_reachable():
        data = await session_store(request).get(token)
    if data is None:
        return None
    return Principal(
        role=data.role,
        tenant_id=data.tenant_id,
        user_id=data.user_id,
        api_key_id=None,
        via="session",
        session_id=data.session_id,
        csrf_token=data.csrf_token,
    )


async def _resolve(request: Request, session: AsyncSession) -> Principal | None:
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return None
        return await _from_api_key(request, session, credential.strip())
    settings: Settings = request.app.state.settings
    token = request.cookies.get(settings.session_cookie_name)
    if token:
        return await _from_session(request, token)
    return None


async def resolve_principal(request: Request, session: AsyncSession) -> Principal | None:
    """The authenticated caller, or None when the request carries no valid credential."""
    cached = getattr(request.state, "principal", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached  # type: ignore[return-value]
    principal = await _resolve(request, session)
    request.state.principal = principal
    if principal is not None:
        log_context.current().update(tenant_id=principal.tenant_id, user_id=principal.user_id or principal.api_key_id)
    return principal

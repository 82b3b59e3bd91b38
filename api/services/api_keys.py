"""Integration API keys: created with a role no higher than the creator's, shown in clear once, revocable.

The clear key is `lf_` + 43 random URL-safe characters; only its SHA-256 digest is stored, plus the first
characters (`prefix`) so people can tell their keys apart. Never commits; the caller does.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import tenant_role
from core.errors import Forbidden, NotFound
from core.security import new_token, token_digest
from domain.permissions import Role, can_delegate
from models import ApiKey
from repositories.api_keys import ApiKeyRepository

KEY_PREFIX = "lf_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    name: str,
    role: str,
    creator_role: Role,
    created_by_id: uuid.UUID | None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the clear key, which exists nowhere else afterwards."""
    key_role = tenant_role(role)
    if not can_delegate(creator_role, key_role):
        raise Forbidden(f"role '{creator_role}' may not create an API key with the role '{key_role}'")
    clear = new_token(KEY_PREFIX)
    api_key = ApiKey(
        tenant_id=tenant_id,
        created_by_id=created_by_id,
        name=name,
        role=str(key_role),
        prefix=clear[:SHOWN_PREFIX_LENGTH],
        key_hash=token_digest(clear),
    )
    await ApiKeyRepository(session).add(api_key)
    return api_key, clear


async def list_api_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ApiKey]:
    return await ApiKeyRepository(session).list(tenant_id=tenant_id)


async def get_api_key(session: AsyncSession, *, tenant_id: uuid.UUID, api_key_id: uuid.UUID) -> ApiKey:
    api_key = await ApiKeyRepository(session).get(tenant_id=tenant_id, api_key_id=api_key_id)
    if api_key is None:
        raise NotFound("no such API key in this tenant")
    return api_key


async def revoke_api_key(session: AsyncSession, *, tenant_id: uuid.UUID, api_key_id: uuid.UUID) -> ApiKey:
    """Revoke a key of the tenant (repeating it is harmless); another tenant's key is not found."""
    repo = ApiKeyRepository(session)
    api_key = await repo.get(tenant_id=tenant_id, api_key_id=api_key_id)
    if api_key is None:
        raise NotFound("no such API key in this tenant")
    await repo.revoke(api_key, at=datetime.now(UTC))
    return api_key

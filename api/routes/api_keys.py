"""Integration API keys of the caller's tenant under /api/v1/api-keys (owners and admins).

The clear key is in the creation response only; listings show its prefix, role and last use. Revocation takes
effect on the key's next request (keys are checked against the database every time).
"""

import uuid

from fastapi import APIRouter, Response

from api.deps import SessionDep
from api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from api.security import ApiKeyManager
from api.services import api_keys as service

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post("", status_code=201, responses={403: {"description": "role above the creator's own"}})
async def create_api_key(data: ApiKeyCreate, principal: ApiKeyManager, session: SessionDep) -> ApiKeyCreated:
    """Create a key. The answer holds the clear key; it cannot be shown again."""
    api_key, clear = await service.create_api_key(
        session,
        tenant_id=principal.tenant(),
        creator_role=principal.role,
        created_by_id=principal.accountable_user_id,
        **dict(data),
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(api_key).model_dump(), key=clear)


@router.get("")
async def list_api_keys(principal: ApiKeyManager, session: SessionDep) -> list[ApiKeyPublic]:
    keys = await service.list_api_keys(session, tenant_id=principal.tenant())
    return [ApiKeyPublic.model_validate(k) for k in keys]


@router.delete("/{api_key_id}", status_code=204)
async def revoke_api_key(api_key_id: uuid.UUID, principal: ApiKeyManager, session: SessionDep) -> Response:
    """Revoke a key; its next request is refused. Revoking twice is harmless."""
    await service.revoke_api_key(session, tenant_id=principal.tenant(), api_key_id=api_key_id)
    return Response(status_code=204)

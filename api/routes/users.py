"""Users of the caller's tenant under /api/v1/users (owners and admins).

Another tenant's user id answers 404. Deactivating a user, changing their role or setting their password ends
their sessions (they log in again and get what the database now says). The sessions end before the change commits,
so with Redis down the change is refused (503) instead of leaving the old sessions alive, and again after it
commits, so a login that slipped in between does not survive either.
"""

import uuid

from fastapi import APIRouter, Request

from api.auth.sessions import session_store
from api.deps import SessionDep
from api.schemas.users import UserCreate, UserPublic, UserUpdate
from api.security import UserManager, UserReader
from api.services import users as service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("")
async def list_users(principal: UserReader, session: SessionDep) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in await service.list_users(session, tenant_id=principal.tenant())]


@router.post("", status_code=201, responses={409: {"description": "e-mail already taken"}})
async def create_user(data: UserCreate, principal: UserManager, session: SessionDep) -> UserPublic:
    """Create a user. Only owners may create owners."""
    user = await service.create_user(session, tenant_id=principal.tenant(), actor_role=principal.role, **dict(data))
    return UserPublic.model_validate(user)


@router.get("/{user_id}")
async def get_user(user_id: uuid.UUID, principal: UserReader, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(await service.get_user(session, tenant_id=principal.tenant(), user_id=user_id))


@router.patch("/{user_id}", responses={409: {"description": "would leave the tenant without an active owner"}})
async def update_user(
    user_id: uuid.UUID, data: UserUpdate, principal: UserManager, session: SessionDep, request: Request
) -> UserPublic:
    """Change role, name, active flag or password. A new role or password, or deactivation, ends their sessions."""
    change = await service.update_user(
        session, tenant_id=principal.tenant(), actor_role=principal.role, user_id=user_id, **dict(data)
    )
    await service.end_sessions(session=session, store=session_store(request), change=change)
    return UserPublic.model_validate(change.user)


@router.post("/{user_id}/deactivate", responses={409: {"description": "the tenant's last active owner"}})
async def deactivate_user(
    user_id: uuid.UUID, principal: UserManager, session: SessionDep, request: Request
) -> UserPublic:
    """Deactivate a user: they can no longer log in and their open sessions end now."""
    change = await service.update_user(
        session, tenant_id=principal.tenant(), actor_role=principal.role, user_id=user_id, is_active=False
    )
    await service.end_sessions(session=session, store=session_store(request), change=change)
    return UserPublic.model_validate(change.user)

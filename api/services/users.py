"""Users of a tenant: create, change role/name/password/active, deactivate. Never commits (the request does).

Rules: a role may only be handed out by someone who holds every permission of it (`can_delegate`), so an admin
cannot create or promote owners; touching an owner needs `user:manage_owners`; a tenant always keeps one active
owner. E-mail addresses are global (they are the login name), lower-cased, and unique across tenants.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.sessions import SessionStore, session_store_reachable
from api.schemas.leads import InvalidEmail, normalize_email
from api.transaction import after_commit
from core.errors import Conflict, Forbidden, NotFound, Unprocessable
from core.security import hash_password, verify_password
from domain.permissions import TENANT_ROLES, Action, Role, allowed, can_delegate
from models import User
from repositories.users import UserRepository

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


def invalid(field: str, reason: str) -> Unprocessable:
    """A 422 shaped like request validation errors, naming the field."""
    return Unprocessable(f"{field}: {reason}", details=[{"field": field, "reason": reason}])


def clean_email(raw: str, *, field: str = "email") -> str:
    try:
        email = normalize_email(raw)
    except InvalidEmail as exc:
        raise invalid(field, str(exc)) from None
    if email is None:
        raise invalid(field, "an e-mail address is required")
    return email


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise invalid(field, f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise invalid(field, f"at most {MAX_PASSWORD_LENGTH} characters")
    return password


def tenant_role(raw: str, *, field: str = "role") -> Role:
    if raw not in {r.value for r in TENANT_ROLES}:
        raise invalid(field, "must be one of " + ", ".join(TENANT_ROLES))
    return Role(raw)


async def add_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    email: str,
    role: Role,
    full_name: str = "",
    password: str | None = None,
    password_hash: str | None = None,
    email_field: str = "email",
) -> User:
    """Insert a user with an argon2id hash (or a hash computed already); 409 when the e-mail is taken."""
    repo = UserRepository(session)
    if await repo.get_by_email(email) is not None:
        raise Conflict(f"a user with the e-mail '{email}' already exists", details={"field": email_field})
    if password_hash is None:
        assert password is not None
        password_hash = await asyncio.to_thread(hash_password, password)
    user = User(tenant_id=tenant_id, email=email, full_name=full_name, role=str(role), password_hash=password_hash)
    if await repo.add_unless_taken(user) is not None:
        # Lost a race with a concurrent insert of the same address.
        raise Conflict(f"a user with the e-mail '{email}' already exists", details={"field": email_field}) from None
    return user


def _require_delegation(actor_role: Role, role: Role) -> None:
    if not can_delegate(actor_role, role):
        raise Forbidden(f"role '{actor_role}' may not give users the role '{role}'")


def _require_owner_management(actor_role: Role, target: User) -> None:
    if target.role == Role.OWNER and not allowed(actor_role, Action.USER_MANAGE_OWNERS):
        raise Forbidden(f"role '{actor_role}' may not modify an owner ('{Action.USER_MANAGE_OWNERS}')")


async def create_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor_role: Role,
    email: str,
    password: str,
    role: str,
    full_name: str = "",
) -> User:
    """Create a user in the caller's tenant."""
    new_role = tenant_role(role)
    _require_delegation(actor_role, new_role)
    return await add_user(
        session,
        tenant_id=tenant_id,
        email=clean_email(email),
        password=check_password(password),
        role=new_role,
        full_name=full_name,
    )


async def get_user(session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await UserRepository(session).get(tenant_id=tenant_id, user_id=user_id)
    if user is None:
        raise NotFound("no such user in this tenant")
    return user


@dataclass(frozen=True)
class UserChange:
    """What an update did, so the caller can act on sessions once the transaction has committed."""

    user: User
    role_changed: bool
    sessions_must_end: bool  # deactivated, given a new password or a new role


async def end_sessions(*, session: AsyncSession, store: SessionStore, change: UserChange) -> None:
    """End the changed user's sessions when the change requires it: before the commit, so with Redis down the change
    is refused (503) instead of leaving the old sessions alive, and again after it, so that a login that slipped in
    between does not survive either (that second sweep only logs a failure)."""
    if not change.sessions_must_end:
        return
    user_id = change.user.id
    async with session_store_reachable():
        await store.revoke_all(user_id=user_id)

    async def sweep_again() -> None:
        await store.revoke_all(user_id=user_id)

    after_commit(session, sweep_again, failure=None)


async def _ensure_an_owner_remains(session: AsyncSession, *, tenant_id: uuid.UUID, target: User) -> None:
    if target.role == Role.OWNER and target.is_active:
        if await UserRepository(session).count_active_owners(tenant_id=tenant_id, lock=True) <= 1:
            raise Conflict("this is the tenant's last active owner; make another user owner first")


async def update_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor_role: Role,
    user_id: uuid.UUID,
    role: str | None = None,
    full_name: str | None = None,
    is_active: bool | None = None,
    password: str | None = None,
) -> UserChange:
    """Change a user's role, name, active flag or password (None leaves a field as it is)."""
    repo = UserRepository(session)
    user = await repo.get_for_update(tenant_id=tenant_id, user_id=user_id)
    if user is None:
        raise NotFound("no such user in this tenant")
    _require_owner_management(actor_role, user)
    new_role = tenant_role(role) if role is not None else None
    if new_role is not None:
        _require_delegation(actor_role, new_role)
    if password is not None:
        check_password(password)

    losing_owner = (new_role is not None and new_role != Role.OWNER) or is_active is False
    if losing_owner:
        await _ensure_an_owner_remains(session, tenant_id=tenant_id, target=user)

    role_changed = new_role is not None and new_role != user.role
    deactivating = is_active is False and user.is_active
    if new_role is not None:
        user.role = str(new_role)
    if full_name is not None:
        user.full_name = full_name
    if is_active is True and not user.is_active:
        user.is_active, user.deactivated_at = True, None
    if deactivating:
        user.is_active, user.deactivated_at = False, datetime.now(UTC)
    if password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, password)
    await UserRepository(session).flush()
    sessions_must_end = deactivating or role_changed or password is not None
    return UserChange(user=user, role_changed=role_changed, sessions_must_end=sessions_must_end)


async def list_users(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[User]:
    return await UserRepository(session).list(tenant_id=tenant_id)


async def change_own_password(
    session: AsyncSession, *, user_id: uuid.UUID, current_password: str, new_password: str
) -> User:
    """The caller's new password, once their current one is proven; 403 when it is wrong, 422 when the new one is
    refused. Ending their other sessions is the caller's (`SessionStore.revoke_others`)."""
    user = await get_any_user(session, user_id=user_id)
    if not await asyncio.to_thread(verify_password, user.password_hash, current_password):
        raise Forbidden("the current password is wrong")
    check_password(new_password, field="new_password")
    if new_password == current_password:
        raise invalid("new_password", "is the current password; choose another")
    user.password_hash = await asyncio.to_thread(hash_password, new_password)
    return user


async def authenticate_user(session: AsyncSession, *, email: str, password: str) -> User | None:
    """The user whose e-mail and password these are, active or not; None otherwise.

    An unknown address costs the same argon2 verification as a known one, so timing does not reveal accounts.
    """
    user = await UserRepository(session).get_by_email(email)
    # argon2 takes ~0.1 s of CPU by design: off the event loop (the C code releases the GIL).
    if not await asyncio.to_thread(verify_password, user.password_hash if user else None, password):
        return None
    return user


async def reread_user(session: AsyncSession, *, user: User) -> User:
    """The user's row as committed now, not as this session first read it."""
    return await UserRepository(session).refresh(user)


async def get_any_user(session: AsyncSession, *, user_id: uuid.UUID) -> User:
    """A user by id whatever their tenant: only for the caller's own record (`/auth/me`)."""
    user = await UserRepository(session).get_by_id(user_id)
    if user is None:
        raise NotFound("your user no longer exists")
    return user

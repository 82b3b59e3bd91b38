"""SQL for users. Tenant-scoped reads take the tenant id: another tenant's user is simply not found."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select

from models import User
from repositories.base import Repository


def display_name() -> ColumnElement[str]:
    """A person as the app names them to others: their full name, else their e-mail (SQL, for a join's select)."""
    return func.coalesce(func.nullif(User.full_name, ""), User.email)


class UserRepository(Repository[User]):
    model = User

    async def get(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=user_id)

    async def get_for_update(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
        """The user row locked until commit, so checks like "the last owner" see no concurrent change."""
        result = await self.session.execute(
            select(User).where(User.tenant_id == tenant_id, User.id == user_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def get_by_id(self, user_id: uuid.UUID) -> User | None:
        """Any user, whatever their tenant: for authentication only."""
        return await self.by_id(user_id)

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email.strip().lower()))
        return result.scalar_one_or_none()

    async def list(self, *, tenant_id: uuid.UUID) -> list[User]:
        return await self._all(select(User).where(User.tenant_id == tenant_id).order_by(User.created_at, User.email))

    async def count_active_owners(self, *, tenant_id: uuid.UUID, lock: bool = False) -> int:
        """How many active owners the tenant has; `lock` holds their rows until commit (two owners demoting
        each other at once must not leave the tenant ownerless)."""
        statement = select(User.id).where(User.tenant_id == tenant_id, User.role == "owner", User.is_active)
        if lock:
            statement = statement.with_for_update()
            return len((await self.session.execute(statement)).all())
        result = await self.session.execute(select(func.count()).select_from(statement.subquery()))
        return int(result.scalar_one())

    async def deactivate(self, user: User, *, at: datetime) -> None:
        user.is_active = False
        user.deactivated_at = at
        await self.session.flush()

    async def by_emails(self, *, tenant_id: uuid.UUID, emails: Sequence[str]) -> dict[str, User]:
        """Lower-cased e-mail -> user of the tenant, for resolving an import's `owner_email` column in one query."""
        if not emails:
            return {}
        result = await self.session.execute(
            select(User).where(User.tenant_id == tenant_id, func.lower(User.email).in_([e.lower() for e in emails]))
        )
        return {user.email.lower(): user for user in result.scalars()}

"""A benchmark run's tenants, created through the services the API uses and named after the run."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.api_keys import create_api_key
from api.services.tenants import create_tenant
from domain.permissions import Role
from models import Tenant, User

OWNER_PASSWORD = "bench-password-123"


def owner_email(slug: str) -> str:
    """The e-mail of the owner `bench_tenant` creates for the tenant `slug`."""
    return f"owner-{slug}@bench.test"


async def bench_tenant(session: AsyncSession, *, name: str, slug: str) -> Tenant:
    """A fresh tenant and its owner (`owner_email(slug)`); the caller commits."""
    return await create_tenant(
        session, name=name, slug=slug, owner_email=owner_email(slug), owner_password=OWNER_PASSWORD
    )


async def owner_api_key(session: AsyncSession, tenant: Tenant) -> str:
    """An admin API key of the tenant created by its owner, in clear; the caller commits."""
    owner = (await session.execute(select(User).where(User.tenant_id == tenant.id))).scalar_one()
    _, clear = await create_api_key(
        session, tenant_id=tenant.id, name="bench", role="admin", creator_role=Role.OWNER, created_by_id=owner.id
    )
    return clear

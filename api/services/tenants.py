"""Tenants: create one with its owner and default statuses; create the first system_admin. Never commits."""

import re
import uuid
from zoneinfo import available_timezones

import phonenumbers
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import add_user, check_password, clean_email, invalid
from core.errors import Conflict, NotFound
from domain.permissions import Role
from models import Tenant, User
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from repositories.users import UserRepository

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_SLUG = re.compile(SLUG_PATTERN)
_TIMEZONES = frozenset(available_timezones())


def _clean_settings(*, slug: str, default_region: str, timezone: str, speed_to_lead_minutes: int) -> None:
    if not _SLUG.match(slug):
        raise invalid("slug", "lower-case letters, digits and inner hyphens, at most 63 characters")
    if default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise invalid("default_region", f"'{default_region}' is not an ISO 3166 region phone numbers know")
    if timezone not in _TIMEZONES:
        raise invalid("timezone", f"'{timezone}' is not an IANA time zone (like 'Europe/Berlin')")
    if not 1 <= speed_to_lead_minutes <= 7 * 24 * 60:
        raise invalid("speed_to_lead_minutes", "between 1 minute and 7 days")


async def create_tenant(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
    default_region: str = "US",
    timezone: str = "UTC",
    speed_to_lead_minutes: int = 15,
) -> Tenant:
    """Create a tenant, its owner (argon2id password) and the default statuses. 409 when slug or e-mail is taken."""
    _clean_settings(
        slug=slug, default_region=default_region, timezone=timezone, speed_to_lead_minutes=speed_to_lead_minutes
    )
    email = clean_email(owner_email, field="owner_email")
    check_password(owner_password, field="owner_password")
    repo = TenantRepository(session)
    if await repo.get_by_slug(slug) is not None:
        raise Conflict(f"a tenant with the slug '{slug}' already exists", details={"field": "slug"})
    tenant = Tenant(
        id=uuid.uuid4(),
        name=name,
        slug=slug,
        default_region=default_region.upper(),
        timezone=timezone,
        speed_to_lead_minutes=speed_to_lead_minutes,
    )
    try:
        async with session.begin_nested():
            await repo.add(tenant)
    except IntegrityError:
        raise Conflict(f"a tenant with the slug '{slug}' already exists", details={"field": "slug"}) from None
    await add_user(
        session,
        tenant_id=tenant.id,
        email=email,
        password=owner_password,
        role=Role.OWNER,
        full_name=owner_name,
        email_field="owner_email",
    )
    await StatusRepository(session).add_defaults(tenant_id=tenant.id)
    return tenant


async def get_tenant(session: AsyncSession, *, tenant_id: uuid.UUID) -> Tenant:
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return await TenantRepository(session).list()


async def ensure_system_admin(session: AsyncSession, *, email: str, password: str) -> User:
    """The platform administrator with this e-mail, created on first call; later calls change nothing."""
    address = clean_email(email)
    existing = await UserRepository(session).get_by_email(address)
    if existing is not None:
        if existing.role != Role.SYSTEM_ADMIN:
            raise Conflict(f"'{address}' already belongs to a tenant user; choose another system_admin e-mail")
        return existing
    return await add_user(
        session, tenant_id=None, email=address, password=check_password(password), role=Role.SYSTEM_ADMIN
    )

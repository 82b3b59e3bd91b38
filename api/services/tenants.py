"""Tenants: create one with its owner and default statuses, change its settings; create the first system_admin.
Never commits."""

import re
import uuid
from zoneinfo import available_timezones

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import add_user, check_password, clean_email, invalid
from core.errors import Conflict, NotFound
from core.validation_messages import readable_pattern
from domain.permissions import Role
from models import Tenant, User
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from repositories.users import UserRepository

SLUG_RULE = "lower-case letters, digits and hyphens, starting and ending with a letter or digit, such as acme-sales"
SLUG_PATTERN = readable_pattern(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", SLUG_RULE)
_SLUG = re.compile(SLUG_PATTERN)
_TIMEZONES = frozenset(available_timezones())


MAX_SPEED_TO_LEAD_MINUTES = 7 * 24 * 60


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug):
        raise invalid("slug", SLUG_RULE)


def _check_region(default_region: str) -> None:
    if default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise invalid("default_region", f"'{default_region}' is not an ISO 3166 region phone numbers know")


def _check_timezone(timezone: str) -> None:
    if timezone not in _TIMEZONES:
        raise invalid("timezone", f"'{timezone}' is not an IANA time zone (like 'Europe/Berlin')")


def _check_speed_to_lead(minutes: int) -> None:
    if not 0 <= minutes <= MAX_SPEED_TO_LEAD_MINUTES:
        raise invalid("speed_to_lead_minutes", "between 0 (off) and 7 days")


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
    _check_slug(slug)
    _check_region(default_region)
    _check_timezone(timezone)
    _check_speed_to_lead(speed_to_lead_minutes)
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
    if await repo.add_unless_taken(tenant) is not None:
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


async def update_tenant_settings(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    name: str | None = None,
    default_region: str | None = None,
    timezone: str | None = None,
    speed_to_lead_minutes: int | None = None,
) -> Tenant:
    """Change the settings given (None: unchanged). They apply to what starts from now on: a running lead workflow
    keeps the speed-to-lead it started with, a lead keeps its time zone, a phone number its parsing."""
    tenant = await get_tenant(session, tenant_id=tenant_id)
    if name is not None:
        tenant.name = name
    if default_region is not None:
        _check_region(default_region)
        tenant.default_region = default_region.upper()
    if timezone is not None:
        _check_timezone(timezone)
        tenant.timezone = timezone
    if speed_to_lead_minutes is not None:
        _check_speed_to_lead(speed_to_lead_minutes)
        tenant.speed_to_lead_minutes = speed_to_lead_minutes
    await TenantRepository(session).flush()
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

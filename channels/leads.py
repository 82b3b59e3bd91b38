"""The lead an inbound event is about, found by the person's number, or created when the number is new.

Shared by the channels: a WhatsApp message (source `whatsapp`) or a call (source `call`) from an unknown number
creates the lead, in the tenant's default status, with its time zone derived from the number.
"""

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from models import Lead, Tenant
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.timeline import TimelineRepository

log = logging.getLogger(__name__)


async def lead_for_number(
    session: AsyncSession, *, tenant: Tenant, number: str, name: str | None, source: str
) -> tuple[Lead | None, bool]:
    """The tenant's lead with this number and whether this call created it; (None, False) for an unusable number."""
    try:
        phone = normalize_phone(number, tenant.default_region)
    except InvalidPhone as exc:
        # The tenant and the reason, never the number itself (personal data, and what a log reader cannot act on).
        log.warning("inbound %s event of tenant %s skipped: the sender's number is %s", source, tenant.id, exc.reason)
        return None, False
    return await lead_for_phone(session, tenant=tenant, phone=phone, name=name, source=source)


async def lead_for_phone(
    session: AsyncSession, *, tenant: Tenant, phone: str, name: str | None, source: str
) -> tuple[Lead, bool]:
    """The tenant's lead with this (already normalised) phone, created when missing; and whether it was created.

    The time zone is derived from an E.164 number; anything else (a caller that withheld it) gets the tenant's."""
    leads = LeadRepository(session)
    lead = await leads.get_by_phone(tenant_id=tenant.id, phone=phone)
    if lead is not None:
        return lead, False
    status = await StatusRepository(session).get_default(tenant_id=tenant.id)
    created = await leads.insert_if_missing(
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant.id,
            "phone": phone,
            "name": name or "",
            "source": source,
            "status_key": status.key if status is not None else "new",
            "stage": status.stage if status is not None else "new",
            "timezone": timezone_for_phone(phone, tenant.timezone) if phone.startswith("+") else tenant.timezone,
            "custom_fields": {},
        }
    )
    if created is not None:
        await TimelineRepository(session).record_lead_created(lead=created, actor=source)
        return created, True
    # A concurrent delivery created it first: then it is simply found.
    lead = await leads.get_by_phone(tenant_id=tenant.id, phone=phone)
    assert lead is not None
    return lead, False

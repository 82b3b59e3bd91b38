"""What the inputs of the workflows bound to one lead (its own, an enrollment's, a call's) start with."""

import uuid
from typing import TypedDict

from models import Lead, Tenant


class LeadIdentity(TypedDict):
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID


def lead_identity(tenant: Tenant, lead: Lead) -> LeadIdentity:
    """The tenant and lead a workflow input names, to unpack into it (`**lead_identity(tenant, lead)`)."""
    return LeadIdentity(tenant_id=tenant.id, tenant_slug=tenant.slug, lead_id=lead.id)

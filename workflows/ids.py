"""Readable workflow ids: an operator can tell the tenant and the lead from the id alone."""


def lead_workflow_id(tenant_slug: str, lead_id: str) -> str:
    return f"lead:{tenant_slug}:{lead_id}"

"""Readable workflow ids: an operator can tell the tenant and the lead from the id alone."""


def lead_workflow_id(tenant_slug: str, lead_id: str) -> str:
    return f"lead:{tenant_slug}:{lead_id}"


def call_workflow_id(tenant_slug: str, lead_id: str, attempt: int | str) -> str:
    """`call:<tenant>:<lead>:<attempt>`; an inbound call's attempt is `in-<CallSid>`."""
    return f"call:{tenant_slug}:{lead_id}:{attempt}"

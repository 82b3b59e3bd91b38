"""Readable workflow ids: an operator can tell the tenant and the lead from the id alone."""


def lead_workflow_id(tenant_slug: str, lead_id: str) -> str:
    return f"lead:{tenant_slug}:{lead_id}"


def is_lead_workflow_id(workflow_id: str) -> bool:
    """Whether `workflow_id` is a LeadWorkflow's: its sends (an agent's message, an AI reply) are no enrollment's."""
    return workflow_id.startswith("lead:")


def call_workflow_id(tenant_slug: str, lead_id: str, attempt: int | str) -> str:
    """`call:<tenant>:<lead>:<attempt>`; an inbound call's attempt is `in-<CallSid>`."""
    return f"call:{tenant_slug}:{lead_id}:{attempt}"

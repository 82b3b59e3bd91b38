"""Roles and the permission matrix: which role may perform which action. The README table is generated from it."""

from enum import StrEnum


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"
    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"


TENANT_ROLES = (Role.OWNER, Role.ADMIN, Role.AGENT)


class Action(StrEnum):
    TENANT_CREATE = "tenant:create"
    TENANT_LIST = "tenant:list"
    TENANT_SETTINGS = "tenant:settings"
    USER_READ = "user:read"
    USER_MANAGE = "user:manage"
    USER_MANAGE_OWNERS = "user:manage_owners"
    API_KEY_MANAGE = "api_key:manage"
    STATUS_READ = "status:read"
    STATUS_MANAGE = "status:manage"
    LEAD_READ = "lead:read"
    LEAD_WRITE = "lead:write"
    LEAD_DELETE = "lead:delete"
    LEAD_IMPORT = "lead:import"
    WHATSAPP_ACCOUNT_MANAGE = "whatsapp_account:manage"
    WHATSAPP_SHARD_MANAGE = "whatsapp_shard:manage"
    WEBHOOK_INBOX_MANAGE = "webhook_inbox:manage"
    FEATURE_FLAG_MANAGE = "feature_flag:manage"
    PAYLOAD_DECODE = "payload:decode"
    SEQUENCE_READ = "sequence:read"
    SEQUENCE_MANAGE = "sequence:manage"
    ENROLLMENT_READ = "enrollment:read"
    ENROLLMENT_MANAGE = "enrollment:manage"
    TASK_WORK = "task:work"
    AI_AGENT_MANAGE = "ai_agent:manage"
    AI_USAGE_READ = "ai_usage:read"
    AI_DRAFT_WORK = "ai_draft:work"
    TELEPHONY_ACCOUNT_MANAGE = "telephony_account:manage"
    CALL_READ = "call:read"
    CALL_PLACE = "call:place"


_SA, _O, _AD, _AG = Role.SYSTEM_ADMIN, Role.OWNER, Role.ADMIN, Role.AGENT

MATRIX: dict[Action, frozenset[Role]] = {
    Action.TENANT_CREATE: frozenset({_SA}),
    Action.TENANT_LIST: frozenset({_SA}),
    # Name, time zone, phone region, speed-to-lead: the owner of their own tenant, a system admin of any.
    Action.TENANT_SETTINGS: frozenset({_SA, _O}),
    Action.USER_READ: frozenset({_O, _AD}),
    Action.USER_MANAGE: frozenset({_O, _AD}),
    Action.USER_MANAGE_OWNERS: frozenset({_O}),
    Action.API_KEY_MANAGE: frozenset({_O, _AD}),
    Action.STATUS_READ: frozenset({_O, _AD, _AG}),
    Action.STATUS_MANAGE: frozenset({_O, _AD}),
    Action.LEAD_READ: frozenset({_O, _AD, _AG}),
    Action.LEAD_WRITE: frozenset({_O, _AD, _AG}),
    Action.LEAD_DELETE: frozenset({_O, _AD}),
    Action.LEAD_IMPORT: frozenset({_O, _AD}),
    Action.WHATSAPP_ACCOUNT_MANAGE: frozenset({_O, _AD}),
    Action.WHATSAPP_SHARD_MANAGE: frozenset({_SA}),
    # The inbox holds every tenant's deliveries: only the platform's administrators see it.
    Action.WEBHOOK_INBOX_MANAGE: frozenset({_SA}),
    # Flags gate features per tenant (AI agent, calls): the platform decides, not the tenant.
    Action.FEATURE_FLAG_MANAGE: frozenset({_SA}),
    # Workflow payloads hold every tenant's leads' personal data: the Temporal Web UI decodes them for these only.
    Action.PAYLOAD_DECODE: frozenset({_SA}),
    # Sequences: owners and admins define them; agents read them (to enroll and to see what a lead will receive).
    Action.SEQUENCE_READ: frozenset({_O, _AD, _AG}),
    Action.SEQUENCE_MANAGE: frozenset({_O, _AD}),
    # Agents work leads, so they may enroll them and pause/resume/stop an enrollment; bulk enrollment is the same
    # action (a filter is just a way of naming lead ids), bounded by settings.enrollment_max_leads.
    Action.ENROLLMENT_READ: frozenset({_O, _AD, _AG}),
    Action.ENROLLMENT_MANAGE: frozenset({_O, _AD, _AG}),
    # Everyone works tasks; an agent only their own (a task of someone else is a 404), owner/admin every task.
    Action.TASK_WORK: frozenset({_O, _AD, _AG}),
    # The AI agent: owners and admins set it up and watch its spending; every agent approves its drafts and hands
    # conversations to it or takes them over.
    Action.AI_AGENT_MANAGE: frozenset({_O, _AD}),
    Action.AI_USAGE_READ: frozenset({_O, _AD}),
    Action.AI_DRAFT_WORK: frozenset({_O, _AD, _AG}),
    # Telephony credentials and call policy are the tenant's settings; every agent works calls (see and place them,
    # set their disposition).
    Action.TELEPHONY_ACCOUNT_MANAGE: frozenset({_O, _AD}),
    Action.CALL_READ: frozenset({_O, _AD, _AG}),
    Action.CALL_PLACE: frozenset({_O, _AD, _AG}),
}
assert set(MATRIX) == set(Action)


def allowed(role: Role | str, action: Action) -> bool:
    return Role(role) in MATRIX[action]


def actions_of(role: Role | str) -> frozenset[Action]:
    return frozenset(action for action, roles in MATRIX.items() if Role(role) in roles)


def can_delegate(holder: Role | str, role: Role | str) -> bool:
    """Whether `holder` may hand out `role` (to an API key or a user): only when `role` can do nothing `holder`
    cannot. Derived from the matrix, so a new action never needs a second table."""
    return actions_of(role) <= actions_of(holder)


def matrix_markdown() -> str:
    """The matrix as a Markdown table (README)."""
    roles = list(Role)
    lines = ["| action | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for action in Action:
        cells = ["yes" if r in MATRIX[action] else "-" for r in roles]
        lines.append(f"| `{action}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def capped_role(role: Role | str, cap: Role | str) -> Role | None:
    """`role` limited to what `cap` may do: the lower of the two, or None when neither is within the other."""
    if can_delegate(cap, role):
        return Role(role)
    if can_delegate(role, cap):
        return Role(cap)
    return None

"""Feature flags: every named flag with its default, in one place. A system admin overrides a flag per tenant
(`/api/v1/admin/tenants/{id}/flags`); code reads the effective value through core/feature_flags.py's cached reader.

Workflows never read a flag directly (a read is I/O, and a replay must see the value the run saw): they take it in
their input, or ask an activity, whose answer history records (`feature_flags.get`, or the activity that prepares
the work: the AI agent's `ai.plan_turn`/`ai.run_turn`, a call's `call.prepare`/`call.place`). Add a flag here with a
default that keeps today's behaviour, then gate the new code on it.

The API gates whole actions: a route that requires an action in `GATED_ACTIONS` answers 403 `feature_disabled`
(naming the flag) for a tenant whose flag is off (api/security.py `require`). Records of past work (call history,
AI usage) stay readable.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from domain.permissions import Action


class FeatureFlag(StrEnum):
    AI_AGENT = "ai_agent"
    CALLS = "calls"


@dataclass(frozen=True)
class FlagDefinition:
    default: bool
    description: str


FLAGS: dict[FeatureFlag, FlagDefinition] = {
    # On by default: both need the tenant's own set-up first (agent settings, a telephony account); a system admin
    # turns a feature off for one tenant (a plan without it, an incident, a tenant's abuse).
    FeatureFlag.AI_AGENT: FlagDefinition(
        default=True, description="the AI agent answers inbound messages, drafts replies and personalises outreach"
    ),
    FeatureFlag.CALLS: FlagDefinition(
        default=True, description="the voice channel: calls (AI or human) through the telephony provider"
    ),
}

# What the API refuses while a tenant's flag is off: setting the feature up and using it.
GATED_ACTIONS: dict[Action, FeatureFlag] = {
    Action.AI_AGENT_MANAGE: FeatureFlag.AI_AGENT,
    Action.AI_DRAFT_WORK: FeatureFlag.AI_AGENT,
    Action.TELEPHONY_ACCOUNT_MANAGE: FeatureFlag.CALLS,
    Action.CALL_PLACE: FeatureFlag.CALLS,
}


def disabled_message(flag: FeatureFlag) -> str:
    return f"the '{flag.value}' feature is off for this tenant; a system admin can turn it on"


def effective_flags(overrides: Mapping[str, bool]) -> dict[FeatureFlag, bool]:
    """Every flag's value for a tenant: its override when it has one, else the default. Overrides of flags no longer
    defined are ignored."""
    return {flag: overrides.get(flag.value, definition.default) for flag, definition in FLAGS.items()}


# The activity workflows ask (activities/feature_flags.py); its input and answer.
GET_FEATURE_FLAGS = "feature_flags.get"


class FeatureFlagsQuery(BaseModel):
    tenant_id: str


class TenantFeatureFlags(BaseModel):
    flags: dict[str, bool]

    def enabled(self, flag: FeatureFlag) -> bool:
        return self.flags.get(flag.value, FLAGS[flag].default)

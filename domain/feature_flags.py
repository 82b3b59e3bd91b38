"""Feature flags: every named flag with its default, in one place. A system admin overrides a flag per tenant
(`/api/v1/admin/tenants/{id}/flags`); code reads the effective value through core/feature_flags.py's cached reader.

Workflows never read a flag directly (a read is I/O, and a replay must see the value the run saw): they take it in
their input, or ask the `feature_flags.get` activity, whose answer history records. Add a flag here with a default
that keeps today's behaviour, then gate the new code on it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel


class FeatureFlag(StrEnum):
    AI_AGENT = "ai_agent"
    CALLS = "calls"


@dataclass(frozen=True)
class FlagDefinition:
    default: bool
    description: str


FLAGS: dict[FeatureFlag, FlagDefinition] = {
    FeatureFlag.AI_AGENT: FlagDefinition(
        default=False, description="the AI agent answers inbound messages, drafts replies and personalises outreach"
    ),
    FeatureFlag.CALLS: FlagDefinition(default=False, description="calls (AI or human) through the telephony provider"),
}


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

"""The messages of one AI turn: the system prompt (the tenant's prompt, the rules, the business facts, the lead's
fields and local time) and the recent conversation, oldest first. Only this lead's data ever goes in."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.config import AgentConfig

if TYPE_CHECKING:
    from models import Lead

RULES = (
    "Answer the lead on WhatsApp, briefly and in the lead's language.\n"
    "Only state prices, dates, offers and promises that appear in the business facts below; when you do not know,"
    " say a colleague will confirm.\n"
    "Use the tools to update the CRM. When the lead asks for a person, call handoff_to_human.\n"
    "When the message needs no answer (a thank-you, an emoji), answer with an empty message."
)


# An `ai_message` sequence step: the agent writes one outreach message on the owner's instructions.
OUTREACH_RULES = (
    "Write one WhatsApp message to the lead, following the instructions of the business.\n"
    "Keep it short and personal, in the lead's language; use the lead's first name when you know it.\n"
    "Only state prices, dates, offers and promises that appear in the business facts or the instructions.\n"
    "Answer with the message text only."
)


@dataclass(frozen=True, slots=True)
class ConversationLine:
    inbound: bool  # the lead wrote it
    text: str


@dataclass(frozen=True, slots=True)
class LeadFacts:
    name: str | None
    status: str
    stage: str
    source: str | None
    custom_fields: dict[str, Any]
    timezone: str

    @classmethod
    def of(cls, lead: "Lead") -> "LeadFacts":
        """A lead row's fields as the prompt shows them."""
        return cls(
            name=lead.name or None,
            status=lead.status_key,
            stage=lead.stage,
            source=lead.source,
            custom_fields=lead.custom_fields or {},
            timezone=lead.timezone,
        )


def fact_lines(facts: str) -> list[str]:
    return [line.strip().lstrip("-*").strip() for line in facts.splitlines() if line.strip().lstrip("-*").strip()]


def system_prompt(config: AgentConfig, lead: LeadFacts, local_now: datetime, *, rules: str = RULES) -> str:
    parts = [config.system_prompt.strip() or "You are the assistant of this business.", rules]
    facts = fact_lines(config.facts)
    if facts:
        parts.append("Business facts:\n" + "\n".join(f"- {fact}" for fact in facts))
    else:
        parts.append("Business facts: none given.")
    custom = ", ".join(f"{key}={value}" for key, value in sorted(lead.custom_fields.items())[:20])
    parts.append(
        f"Lead: name={lead.name or 'unknown'}, status={lead.status} (stage {lead.stage}), "
        f"source={lead.source or 'unknown'}" + (f", {custom}" if custom else "")
    )
    parts.append(f"Lead local time: {local_now:%Y-%m-%dT%H:%M} ({lead.timezone}, {local_now:%A})")
    return "\n\n".join(parts)


def build_messages(
    config: AgentConfig, lead: LeadFacts, conversation: list[ConversationLine], local_now: datetime
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(config, lead, local_now)}]
    for line in conversation:
        if line.text:
            messages.append({"role": "user" if line.inbound else "assistant", "content": line.text})
    return messages


def outreach_messages(
    config: AgentConfig, lead: LeadFacts, instructions: str, local_now: datetime
) -> list[dict[str, Any]]:
    """An `ai_message` step's request: the outreach rules, the facts, the lead's fields, then the instructions."""
    return [
        {"role": "system", "content": system_prompt(config, lead, local_now, rules=OUTREACH_RULES)},
        {"role": "user", "content": f"Instructions: {instructions}"},
    ]

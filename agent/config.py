"""`AgentConfig`: one version of a tenant's agent settings as the agent uses it (the API key opened).

Built only by the agent factory (agent/factory.py) from the stored row; never logged (it holds the key) and never
crosses into a workflow.
"""

import uuid
from dataclasses import dataclass, field

from domain.ai_agent import AgentMode, AgentTool, AnswerHours


@dataclass(frozen=True, slots=True)
class AgentConfig:
    tenant_id: uuid.UUID
    version: int
    mode: AgentMode
    model: str
    base_url: str
    api_key: str = field(repr=False)
    system_prompt: str
    facts: str
    temperature: float
    max_output_tokens: int
    tools: tuple[AgentTool, ...]
    answer_hours: AnswerHours | None
    debounce_seconds: float
    draft_timeout_minutes: float
    monthly_token_budget_soft: int | None
    monthly_token_budget_hard: int | None

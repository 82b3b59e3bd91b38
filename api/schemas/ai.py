"""HTTP shapes of the AI agent: settings (API key write-only), usage, drafts, who handles a conversation."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from api.schemas.base import InputBody
from domain.ai_agent import AgentMode, AgentTool, AnswerHours, ConversationHandler

DEFAULT_TOOLS = list(AgentTool)


class AgentSettingsUpdate(InputBody):
    """The whole settings, stored as a new version. `api_key` left out (null) keeps the stored key; "" clears it."""

    mode: AgentMode
    model: str | None = Field(default=None, min_length=1, max_length=100, description="default: the server's")
    base_url: str | None = Field(default=None, max_length=500, description="OpenAI-compatible; default: the server's")
    api_key: str | None = Field(default=None, max_length=500)
    system_prompt: str = Field(default="", max_length=8000)
    facts: str = Field(default="", max_length=8000, description="what the agent may state: prices, hours, offers")
    temperature: float = Field(default=0.3, ge=0, le=2)
    max_output_tokens: int = Field(default=300, ge=16, le=4096)
    tools: list[AgentTool] = Field(default_factory=lambda: list(DEFAULT_TOOLS))
    answer_hours: AnswerHours | None = Field(default=None, description="in the lead's time zone; null: any time")
    debounce_seconds: float = Field(default=5.0, ge=0, le=300)
    draft_timeout_minutes: float = Field(default=60, ge=0.05, le=7 * 24 * 60, description="fractions allowed")
    monthly_token_budget_soft: int | None = Field(default=None, ge=1)
    monthly_token_budget_hard: int | None = Field(default=None, ge=1)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host, e.g. https://api.openai.com/v1")
        return value.rstrip("/")

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[AgentTool]) -> list[AgentTool]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _budgets_in_order(self) -> "AgentSettingsUpdate":
        soft, hard = self.monthly_token_budget_soft, self.monthly_token_budget_hard
        if soft is not None and hard is not None and soft > hard:
            raise ValueError("monthly_token_budget_soft must not be above monthly_token_budget_hard")
        return self


class AgentSettingsPublic(BaseModel):
    version: int = Field(description="0: never configured (the agent is off)")
    mode: AgentMode
    model: str
    base_url: str
    has_api_key: bool
    system_prompt: str
    facts: str
    temperature: float
    max_output_tokens: int
    tools: list[AgentTool]
    answer_hours: AnswerHours | None
    debounce_seconds: float
    draft_timeout_minutes: float
    monthly_token_budget_soft: int | None
    monthly_token_budget_hard: int | None
    paused: bool = Field(description="the hard token budget is used up this month: the agent does not answer")
    updated_at: datetime | None
    updated_by: str | None


class UsageDay(BaseModel):
    day: date
    model: str
    calls: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost_usd: Decimal
    avg_latency_ms: float


class UsageBudget(BaseModel):
    month: str
    tokens_used: int
    soft: int | None
    hard: int | None
    soft_reached_at: datetime | None
    hard_reached_at: datetime | None
    paused: bool


class UsagePublic(BaseModel):
    since: date
    until: date
    days: list[UsageDay]
    budget: UsageBudget


class DraftPublic(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    text: str
    reason: str
    settings_version: int
    status: Literal["pending", "approved", "rejected", "withdrawn", "expired", "failed"]
    final_text: str | None
    decided_by: str | None
    decided_at: datetime | None
    message_id: uuid.UUID | None
    task_id: uuid.UUID | None
    created_at: datetime


class DraftList(BaseModel):
    items: list[DraftPublic]


class DraftApproval(InputBody):
    text: str | None = Field(default=None, min_length=1, max_length=4096, description="an edited reply to send instead")


class DraftRejection(InputBody):
    reason: str | None = Field(default=None, max_length=500)


class HandlerChange(InputBody):
    handler: Literal["ai", "human"] = Field(description="`unassigned` is only the state before anyone handled it")


class HandlerPublic(BaseModel):
    lead_id: uuid.UUID
    handler: ConversationHandler

"""The agent factory: the one module that reads a tenant's AI agent settings and turns them into a ready agent.

`AgentFactory.agent_for(session, tenant_id)` loads the current settings version (or one named version), opens the
sealed API key and pairs the settings with an `openai.AsyncOpenAI` client. Clients are built once per process per
(base URL, API key) and reused by every tenant that shares them; they never retry (`max_retries=0`): a failed call
is an activity failure and Temporal's retry policy decides. Nothing else reads the settings rows.
"""

import hashlib
import uuid
from dataclasses import dataclass

import openai
from sqlalchemy.ext.asyncio import AsyncSession

from agent.config import AgentConfig
from core.config import Settings
from core.secret_box import SecretBox
from domain.ai_agent import AgentMode, AgentTool, AnswerHours
from models import AiAgentSettings
from repositories.ai_agent_settings import AiAgentSettingsRepository


@dataclass(frozen=True, slots=True)
class Agent:
    config: AgentConfig
    client: openai.AsyncOpenAI


def config_from_row(row: AiAgentSettings, *, api_key: str) -> AgentConfig:
    return AgentConfig(
        tenant_id=row.tenant_id,
        version=row.version,
        mode=AgentMode(row.mode),
        model=row.model,
        base_url=row.base_url,
        api_key=api_key,
        system_prompt=row.system_prompt,
        facts=row.facts,
        temperature=row.temperature,
        max_output_tokens=row.max_output_tokens,
        tools=tuple(AgentTool(t) for t in row.tools),
        answer_hours=AnswerHours.model_validate(row.answer_hours) if row.answer_hours else None,
        debounce_seconds=row.debounce_seconds,
        draft_timeout_minutes=row.draft_timeout_minutes,
        monthly_token_budget_soft=row.monthly_token_budget_soft,
        monthly_token_budget_hard=row.monthly_token_budget_hard,
    )


class AgentFactory:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._box = SecretBox.for_settings(settings)
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    async def config_for(self, session: AsyncSession, *, tenant_id: uuid.UUID) -> AgentConfig | None:
        """The tenant's current settings, or None when it never configured the agent (the agent is off)."""
        row = await AiAgentSettingsRepository(session).current(tenant_id=tenant_id)
        if row is None:
            return None
        return config_from_row(row, api_key=self._box.open(row.api_key) or "")

    async def agent_for(self, session: AsyncSession, *, tenant_id: uuid.UUID) -> Agent | None:
        config = await self.config_for(session, tenant_id=tenant_id)
        if config is None:
            return None
        return Agent(config=config, client=self.client(config.base_url, config.api_key))

    def client(self, base_url: str, api_key: str) -> openai.AsyncOpenAI:
        """The process's client for this endpoint and key (keyed by a digest: the key itself is not kept twice)."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        key = (base_url, digest)
        client = self._clients.get(key)
        if client is None:
            client = openai.AsyncOpenAI(
                api_key=api_key or "none",
                base_url=base_url,
                max_retries=0,
                timeout=self._settings.ai_request_timeout_seconds,
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

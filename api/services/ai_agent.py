"""A tenant's AI agent settings (every change a new version; the API key sealed and write-only) and its usage."""

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agent.budget import month_key, month_start
from agent.factory import AgentFactory
from api.schemas.ai import DEFAULT_TOOLS, AgentSettingsPublic, AgentSettingsUpdate, UsageBudget, UsageDay, UsagePublic
from api.schemas.base import from_row
from core.config import Settings
from core.errors import Unprocessable
from core.secret_box import SecretBox
from domain.ai_agent import AgentMode
from repositories.ai_agent_settings import AiAgentSettingsRepository
from repositories.ai_usage import AiUsageRepository


async def _paused(session: AsyncSession, *, tenant_id: uuid.UUID, hard: int | None, now: datetime) -> bool:
    if hard is None:
        return False
    used = await AiUsageRepository(session).tokens_in_month(tenant_id=tenant_id, month=month_key(now))
    return used >= hard


async def get_settings(*, session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> AgentSettingsPublic:
    """The current version (through the agent factory, the one reader of the rows), or the defaults as version 0."""
    config = await AgentFactory(settings).config_for(session, tenant_id=tenant_id)
    row = await AiAgentSettingsRepository(session).current(tenant_id=tenant_id)
    if config is None or row is None:
        return AgentSettingsPublic(
            version=0,
            mode=AgentMode.OFF,
            model=settings.ai_default_model,
            base_url=settings.ai_default_base_url,
            has_api_key=False,
            system_prompt="",
            facts="",
            temperature=0.3,
            max_output_tokens=300,
            tools=list(DEFAULT_TOOLS),
            answer_hours=None,
            debounce_seconds=5.0,
            draft_timeout_minutes=60,
            monthly_token_budget_soft=None,
            monthly_token_budget_hard=None,
            paused=False,
            updated_at=None,
            updated_by=None,
        )
    return from_row(
        AgentSettingsPublic,
        config,
        has_api_key=bool(config.api_key),
        tools=list(config.tools),
        paused=await _paused(
            session, tenant_id=tenant_id, hard=config.monthly_token_budget_hard, now=datetime.now(UTC)
        ),
        updated_at=row.created_at,
        updated_by=row.created_by,
    )


async def put_settings(
    *, session: AsyncSession, tenant_id: uuid.UUID, data: AgentSettingsUpdate, actor: str, settings: Settings
) -> AgentSettingsPublic:
    """Store the settings as the tenant's next version; replies from now on use it and record its number."""
    repository = AiAgentSettingsRepository(session)
    current = await repository.current(tenant_id=tenant_id)
    box = SecretBox.for_settings(settings)
    if data.api_key is None:
        api_key = current.api_key if current is not None else None
    else:
        api_key = box.seal(data.api_key) if data.api_key else None
    base_url = data.base_url or settings.ai_default_base_url
    if data.mode != AgentMode.OFF and api_key is None:
        raise Unprocessable(
            "an agent that answers needs an api_key for its model endpoint",
            details=[{"field": "api_key", "reason": "required when mode is draft or auto"}],
        )
    await repository.add_version(
        tenant_id=tenant_id,
        values={
            "mode": data.mode.value,
            "model": data.model or settings.ai_default_model,
            "base_url": base_url,
            "api_key": api_key,
            "system_prompt": data.system_prompt,
            "facts": data.facts,
            "temperature": data.temperature,
            "max_output_tokens": data.max_output_tokens,
            "tools": [tool.value for tool in data.tools],
            "answer_hours": data.answer_hours.model_dump(mode="json") if data.answer_hours else None,
            "debounce_seconds": data.debounce_seconds,
            "draft_timeout_minutes": data.draft_timeout_minutes,
            "monthly_token_budget_soft": data.monthly_token_budget_soft,
            "monthly_token_budget_hard": data.monthly_token_budget_hard,
            "created_by": actor,
        },
    )
    await session.flush()
    return await get_settings(session=session, tenant_id=tenant_id, settings=settings)


async def get_usage(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    since: date | None,
    until: date | None,
    settings: Settings,
) -> UsagePublic:
    """Usage summed by day (UTC) and model, `since` to `until` inclusive (default: this month), and the budget."""
    now = datetime.now(UTC)
    first = since or month_start(now).date()
    last = until or now.date()
    if last < first:
        raise Unprocessable("until must not be before since", details=[{"field": "until", "reason": "before since"}])
    if (last - first).days > 366:
        raise Unprocessable(
            "ask for at most 366 days at once", details=[{"field": "since", "reason": "range too long"}]
        )
    repository = AiUsageRepository(session)
    rows = await repository.by_day_and_model(
        tenant_id=tenant_id,
        since=datetime.combine(first, time(), tzinfo=UTC),
        until=datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC),
    )
    config = await AgentFactory(settings).config_for(session, tenant_id=tenant_id)
    soft = config.monthly_token_budget_soft if config else None
    hard = config.monthly_token_budget_hard if config else None
    month = month_key(now)
    used = await repository.tokens_in_month(tenant_id=tenant_id, month=month)
    alerts = {alert.level: alert.created_at for alert in await repository.alerts(tenant_id=tenant_id, month=month)}
    return UsagePublic(
        since=first,
        until=last,
        days=[UsageDay(**row) for row in rows],
        budget=UsageBudget(
            month=month,
            tokens_used=used,
            soft=soft,
            hard=hard,
            soft_reached_at=alerts.get("soft"),
            hard_reached_at=alerts.get("hard"),
            paused=hard is not None and used >= hard,
        ),
    )

"""SQL for AI model usage: record one call once, a tenant's tokens in a month (a counter row), sums by day and model,
and the once-per-month budget alerts."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, cast, func, select, text
from sqlalchemy.dialects.postgresql import insert

from models import AiBudgetAlert, AiTokenMonth, AiUsage
from repositories.base import Repository

# One call's row, once per `call_key`. Its commit does not wait for the WAL flush (`synchronous_commit` off, set by the
# statement itself, so one round trip in autocommit; inside a caller's transaction it holds for that whole
# transaction). A reply's or a draft's row: what the call was for commits durably right after it (the outbox row, the
# draft, the step's send), which flushes this row too. Any other row (a call utterance, a turn that led to nothing) is
# lost only to a PostgreSQL crash before the WAL writer's next rounds (well under a second). A turn's reply waited on
# the flush of this commit before it could go out.
_RECORD = text(
    """
    WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true))
    INSERT INTO ai_usage (id, tenant_id, lead_id, settings_version, purpose, model, input_tokens, cached_tokens,
        output_tokens, latency_ms, cost_usd, call_key)
    SELECT :id, :tenant_id, :lead_id, :settings_version, :purpose, :model, :input_tokens, :cached_tokens,
        :output_tokens, :latency_ms, :cost_usd, :call_key
    FROM commit_mode
    ON CONFLICT (call_key) DO NOTHING
    """
)


class AiUsageRepository(Repository[AiUsage]):
    model = AiUsage

    async def record(self, values: dict[str, Any]) -> None:
        """Insert one call's usage (the keys of agent/turn.py `CallUsage.usage_row`); a second record of the same
        `call_key` changes nothing. Meant to run on its own in autocommit: in a transaction, that whole transaction
        commits without waiting for the WAL flush (`_RECORD`)."""
        await self.session.execute(_RECORD, {"id": uuid.uuid4(), **values})

    async def tokens_in_month(self, *, tenant_id: uuid.UUID, month: str) -> int:
        """The tenant's tokens (in + out) of the UTC month `YYYY-MM`: one counter row, raised by a trigger on every
        usage row inserted (models/ai_token_month.py)."""
        total = await self.session.scalar(
            select(AiTokenMonth.tokens).where(AiTokenMonth.tenant_id == tenant_id, AiTokenMonth.month == month)
        )
        return int(total or 0)

    async def by_day_and_model(self, *, tenant_id: uuid.UUID, since: datetime, until: datetime) -> list[dict[str, Any]]:
        day = cast(func.timezone("UTC", AiUsage.created_at), Date)
        result = await self.session.execute(
            select(
                day.label("day"),
                AiUsage.model,
                func.count().label("calls"),
                func.sum(AiUsage.input_tokens).label("input_tokens"),
                func.sum(AiUsage.cached_tokens).label("cached_tokens"),
                func.sum(AiUsage.output_tokens).label("output_tokens"),
                func.sum(AiUsage.cost_usd).label("cost_usd"),
                func.avg(AiUsage.latency_ms).label("avg_latency_ms"),
            )
            .where(AiUsage.tenant_id == tenant_id, AiUsage.created_at >= since, AiUsage.created_at < until)
            .group_by(day, AiUsage.model)
            .order_by(day, AiUsage.model)
        )
        return [
            {
                "day": row.day,
                "model": row.model,
                "calls": int(row.calls),
                "input_tokens": int(row.input_tokens or 0),
                "cached_tokens": int(row.cached_tokens or 0),
                "output_tokens": int(row.output_tokens or 0),
                "cost_usd": Decimal(row.cost_usd or 0),
                "avg_latency_ms": round(float(row.avg_latency_ms or 0), 1),
            }
            for row in result
        ]

    async def raise_alert(self, *, tenant_id: uuid.UUID, month: str, level: str, tokens_used: int, budget: int) -> bool:
        """Record the month's alert of `level`; False when it was raised before (each is raised once)."""
        result = await self.session.execute(
            insert(AiBudgetAlert)
            .values(
                id=uuid.uuid4(), tenant_id=tenant_id, month=month, level=level, tokens_used=tokens_used, budget=budget
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "month", "level"])
            .returning(AiBudgetAlert.id)
        )
        return result.scalar_one_or_none() is not None

    async def alerts(self, *, tenant_id: uuid.UUID, month: str) -> list[AiBudgetAlert]:
        result = await self.session.execute(
            select(AiBudgetAlert)
            .where(AiBudgetAlert.tenant_id == tenant_id, AiBudgetAlert.month == month)
            .order_by(AiBudgetAlert.created_at)
        )
        return list(result.scalars())

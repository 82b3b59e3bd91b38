"""The usage row of a model call: recorded once per call key, counted in its tenant's month, and committed without
waiting for the WAL flush (what the call was for commits durably right after it)."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.budget import month_key
from core.db import autocommit_session
from models import AiUsage
from repositories.ai_usage import AiUsageRepository
from tests.fixtures.crm import TenantContext


def _row(tenant_id: uuid.UUID, key: str) -> dict[str, object]:
    return {
        "tenant_id": tenant_id,
        "lead_id": None,
        "settings_version": 1,
        "purpose": "reply",
        "model": "gpt-4o-mini",
        "input_tokens": 120,
        "cached_tokens": 0,
        "output_tokens": 30,
        "latency_ms": 500,
        "cost_usd": Decimal("0.000036"),
        "call_key": key,
    }


async def test_a_call_is_recorded_once_counted_and_committed_without_waiting_for_the_flush(
    session_factory: async_sessionmaker[AsyncSession], tenant: TenantContext
) -> None:
    tenant_id = tenant.tenant_id
    key = f"turn-{uuid.uuid4().hex}:a1:r1"

    async with session_factory() as session, session.begin():
        await session.execute(text("SET LOCAL synchronous_commit = remote_write"))
        await AiUsageRepository(session).record(_row(tenant_id, key))
        assert await session.scalar(text("SHOW synchronous_commit")) == "off"
    for _ in range(2):  # a re-recorded call (an activity's retry) counts once
        async with autocommit_session(session_factory) as session:
            await AiUsageRepository(session).record(_row(tenant_id, key))

    async with session_factory() as session:
        rows = await session.scalar(select(func.count()).select_from(AiUsage).where(AiUsage.call_key == key))
        tokens = await AiUsageRepository(session).tokens_in_month(
            tenant_id=tenant_id, month=month_key(datetime.now(UTC))
        )
    assert (rows, tokens) == (1, 150)

"""The lead and inbox searches never run on a plan made for any pattern.

psycopg prepares a statement on the server after five runs, and PostgreSQL may then keep one plan for every
parameter value. For `ILIKE $1` that generic plan reads the tenant's leads newest first and tests each one instead
of using the trigram indexes: 13 ms against 0.5 ms at 10,000 leads, once the table's statistics favour it. The
searches write their pattern into the SQL text, so a search is planned for its own pattern every time.
"""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from repositories.conversations import ConversationRepository
from repositories.leads import LeadRepository, LeadSearch


async def test_repeated_searches_are_planned_for_their_own_pattern(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id = uuid.uuid4()
    async with session_factory() as session:
        await session.execute(
            text(
                "INSERT INTO tenant (id, slug, name, default_region, timezone, speed_to_lead_minutes)"
                " VALUES (:id, :slug, 'Search plans', 'US', 'UTC', 15)"
            ),
            {"id": tenant_id, "slug": f"search-plans-{tenant_id.hex[:8]}"},
        )
        await session.execute(
            text(
                "INSERT INTO lead (id, tenant_id, phone, name, source, status_key, stage, timezone, custom_fields)"
                " SELECT gen_random_uuid(), :tenant, '+1415' || (5000000 + i), 'Bench Lead ' || i, 'api', 'new',"
                " 'new', 'UTC', '{}' FROM generate_series(1, 2000) AS i"
            ),
            {"tenant": tenant_id},
        )
        await session.commit()
        try:
            # What PostgreSQL does by itself once the statistics favour it, here from the first prepared run on.
            await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            leads, conversations = LeadRepository(session), ConversationRepository(session)
            for i in range(8):
                found = await leads.search(tenant_id=tenant_id, limit=51, search=LeadSearch(f"Lead {1200 + i}"))
                assert [lead.name for lead in found] == [f"Bench Lead {1200 + i}"]
                await conversations.list_latest(tenant_id=tenant_id, limit=51, search=LeadSearch(f"Lead {i}"))
            generic = await session.execute(
                text(
                    "SELECT statement FROM pg_prepared_statements WHERE statement ILIKE '%ilike%' AND generic_plans > 0"
                )
            )
            assert generic.scalars().all() == []
            # The pattern is data, not SQL: a quote and the wildcards match only themselves.
            assert await leads.search(tenant_id=tenant_id, limit=51, search=LeadSearch("O'Brien %_\\")) == []
        finally:
            await session.rollback()
            await session.execute(text("DELETE FROM tenant WHERE id = :id"), {"id": tenant_id})
            await session.commit()

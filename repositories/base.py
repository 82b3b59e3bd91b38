"""What every repository shares: its session, inserting a row, and the reads by id (scoped to a tenant or not).

A repository names its reads after the aggregate (`LeadRepository.get(tenant_id=, lead_id=)`) and builds them on
these; anything beyond them is its own SQL.
"""

import uuid
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


class Repository(Generic[Row]):
    model: type[Row]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Row) -> Row:
        """Insert and flush, so a taken unique key surfaces here as an IntegrityError; the server's defaults
        (timestamps) are read back, so the row can be answered before the commit."""
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    def stage(self, row: Row) -> Row:
        """Add a new row to the session without sending it yet (its fields are still being filled in)."""
        self.session.add(row)
        return row

    async def flush(self) -> None:
        """Send pending changes, so a constraint they break surfaces here."""
        await self.session.flush()

    async def refresh(self, row: Row) -> Row:
        """Re-read the row as the database has it now (server-side defaults and triggers included)."""
        await self.session.refresh(row)
        return row

    async def by_id(self, row_id: uuid.UUID, *, fresh: bool = False) -> Row | None:
        """The row with this primary key, from the session when it holds it (no query) unless `fresh`."""
        return await self.session.get(self.model, row_id, populate_existing=fresh)

    async def in_tenant(self, *, tenant_id: uuid.UUID, row_id: uuid.UUID, fresh: bool = False) -> Row | None:
        """The row with this id in this tenant: another tenant's row is not found."""
        model: Any = self.model
        statement = select(model).where(model.tenant_id == tenant_id, model.id == row_id)
        if fresh:
            statement = statement.execution_options(populate_existing=True)
        result = await self.session.execute(statement)
        row: Row | None = result.scalar_one_or_none()
        return row

"""What every repository shares: its session, inserting a row, the reads by id (scoped to a tenant or not), and the
small steps its own SQL repeats (run a list, insert once by a unique key, whether a change touched a row).

A repository names its reads after the aggregate (`LeadRepository.get(tenant_id=, lead_id=)`) and builds them on
these; anything beyond them is its own SQL.
"""

import builtins
import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Executable, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")
Query = TypeVar("Query", bound=Select[Any])


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

    async def add_unless_taken(self, row: Row) -> IntegrityError | None:
        """`add` in a savepoint: the IntegrityError when a unique key is taken (only the savepoint is rolled back, the
        transaction goes on), None when the row is in."""
        try:
            async with self.session.begin_nested():
                await self.add(row)
        except IntegrityError as taken:
            return taken
        return None

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
        model: Any = self.model  # a mapped class, hashable for the statement cache
        statement = _in_tenant_statement(model, fresh=fresh)
        result = await self.session.execute(statement, {"tenant_id": tenant_id, "row_id": row_id})
        row: Row | None = result.scalar_one_or_none()
        return row

    async def _mark_workflow_started(self, row_ids: Sequence[uuid.UUID]) -> None:
        """Record that the rows' workflows are known to run (the first time only)."""
        if row_ids:
            model: Any = self.model
            await self.session.execute(
                update(model)
                .where(model.id.in_(list(row_ids)), model.workflow_started_at.is_(None))
                # Not an edit of the row: `updated_at` stays.
                .values(workflow_started_at=func.now(), updated_at=model.updated_at)
                # Leave loaded rows as they are: the request may still read them (an expired attribute can't load).
                .execution_options(synchronize_session=False)
            )

    async def _all(self, statement: Executable) -> builtins.list[Row]:
        """Every row `statement` selects, in its order."""
        result = await self.session.execute(statement)
        return list(result.scalars())

    async def _newest(self, statement: Select[Any], limit: int) -> builtins.list[Row]:
        """The first `limit` rows of `statement`, newest first (creation time, then id, both descending)."""
        model: Any = self.model
        return await self._all(statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit))

    def _where_given(self, statement: Query, **equal: Any) -> Query:
        """`statement` narrowed to rows whose column equals the value, for each value given (None: not narrowed)."""
        model: Any = self.model
        for column, value in equal.items():
            if value is not None:
                statement = statement.where(getattr(model, column) == value)
        return statement

    async def _touched(self, statement: Any) -> bool:
        """Run an UPDATE, DELETE or INSERT .. ON CONFLICT DO NOTHING of this model: whether it changed a row."""
        model: Any = self.model
        result = await self.session.execute(statement.returning(model.id))
        return result.scalar_one_or_none() is not None

    async def _one_by(self, key: str, value: Any, *, lock: bool = False) -> Row | None:
        """The row whose unique column `key` holds `value`, re-read (not from the identity map); `lock`: locked for
        this transaction."""
        model: Any = self.model
        result = await self.session.execute(_by_key_statement(model, key, lock=lock), {"key_value": value})
        row: Row | None = result.scalar_one_or_none()
        return row

    async def _insert_once(self, key: str, values: Mapping[str, Any], *, lock: bool = False, **defaults: Any) -> Row:
        """The row whose unique column `key` holds `values[key]`: inserted with a new id, `defaults` and `values`
        when absent, else the one there (a re-run returns the first one); `lock` as in `_one_by`."""
        model: Any = self.model
        inserted = await self.session.scalars(
            _insert_once_statement(model, key), {"id": uuid.uuid4(), **defaults, **values}
        )
        row: Row | None = inserted.one_or_none()
        if row is not None:
            return row  # new in this transaction: nobody else can see it, let alone lock it, before the commit
        result = await self.session.execute(_by_key_statement(model, key, lock=lock), {"key_value": values[key]})
        existing: Row = result.scalar_one()
        return existing


# The shared reads' statements, built once per model and bound per call: the send path runs them for every message,
# and a statement built per call costs more CPU than its row.


@functools.cache
def _in_tenant_statement(model: Any, *, fresh: bool) -> Select[Any]:
    """By tenant and id (`tenant_id`, `row_id`); `fresh`: re-read, not from the identity map."""
    statement = select(model).where(model.tenant_id == bindparam("tenant_id"), model.id == bindparam("row_id"))
    return statement.execution_options(populate_existing=True) if fresh else statement


@functools.cache
def _by_key_statement(model: Any, key: str, *, lock: bool) -> Select[Any]:
    """By the unique column `key` (`key_value`), re-read; `lock`: locked for the transaction."""
    statement = select(model).where(getattr(model, key) == bindparam("key_value"))
    statement = statement.execution_options(populate_existing=True)
    return statement.with_for_update() if lock else statement


@functools.cache
def _insert_once_statement(model: Any, key: str) -> Any:
    """Insert a row unless one holds its unique column `key`; the row inserted, none otherwise."""
    return insert(model).on_conflict_do_nothing(index_elements=[getattr(model, key)]).returning(model)

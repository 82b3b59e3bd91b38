"""SQL for leads. Every read is scoped by tenant (a lead of another tenant is simply not found), except the sweeper's
`never_started`, which looks across tenants."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, String, Table, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from models import Lead, TimelineEvent, User
from repositories.base import Repository
from repositories.jobs import not_in_open_job
from repositories.timeline import LEAD_CREATED, lead_created_key
from repositories.users import display_name


def like_pattern(text: str) -> BindParameter[str]:
    """`%text%` for LIKE / ILIKE (wildcards escaped with `\\`), written into the SQL text itself.

    PostgreSQL then plans each search for its own pattern. Sent as a parameter, the statement is prepared after five
    runs and PostgreSQL settles on a generic plan for `ILIKE $1`, which reads the tenant's leads newest first and tests
    each one: 13 ms at 10,000 leads, against 0.5 ms through the trigram indexes."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return bindparam(None, f"%{escaped}%", type_=String, literal_execute=True)


@dataclass(frozen=True, slots=True)
class LeadSearch:
    """What a search box's text matches on a lead, for every list that searches leads (the leads, the inbox).

    `text` matches name, phone or e-mail case-insensitively; `phone` (the text read as an E.164 number) and
    `phone_digits` (its digits) also match the phone, so "(415) 555-0123" or "555 0123" find "+14155550123".
    """

    text: str
    phone: str | None = None
    phone_digits: str | None = None

    def condition(self) -> ColumnElement[bool]:
        pattern = like_pattern(self.text)
        matches: list[ColumnElement[bool]] = [
            Lead.name.ilike(pattern, escape="\\"),
            Lead.email.ilike(pattern, escape="\\"),
            Lead.phone.ilike(pattern, escape="\\"),
        ]
        if self.phone is not None:
            matches.append(Lead.phone == self.phone)
        if self.phone_digits:
            matches.append(Lead.phone.like(like_pattern(self.phone_digits), escape="\\"))
        return or_(*matches)


class LeadRepository(Repository[Lead]):
    model = Lead

    async def get(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=lead_id)

    async def get_with_owner_name(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> tuple[Lead, str | None] | None:
        """The lead and its owner's full name (else e-mail; None without an owner), in one statement."""
        result = await self.session.execute(
            select(Lead, display_name())
            .outerjoin(User, (User.id == Lead.owner_id) & (User.tenant_id == Lead.tenant_id))
            .where(Lead.tenant_id == tenant_id, Lead.id == lead_id)
        )
        row = result.one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def get_fresh(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
        """Like `get`, but re-reads the row even if this session already holds it (another process wrote it)."""
        return await self.in_tenant(tenant_id=tenant_id, row_id=lead_id, fresh=True)

    async def get_many(self, *, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> list[Lead]:
        if not lead_ids:
            return []
        return await self._all(select(Lead).where(Lead.tenant_id == tenant_id, Lead.id.in_(list(lead_ids))))

    async def mark_workflow_started(self, *, lead_ids: Sequence[uuid.UUID]) -> None:
        """Record that the leads' workflows are known to run (the first time only)."""
        await self._mark_workflow_started(lead_ids)

    async def never_started_among(self, *, tenant_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> list[Lead]:
        """Those of `lead_ids` whose workflow was never confirmed started."""
        if not lead_ids:
            return []
        return await self._all(
            select(Lead).where(
                Lead.tenant_id == tenant_id, Lead.id.in_(list(lead_ids)), Lead.workflow_started_at.is_(None)
            )
        )

    async def never_started(self, *, older_than: timedelta, limit: int) -> list[Lead]:
        """Leads of any tenant whose workflow was never confirmed started, created before `older_than` ago and no
        item of an open job (the job starts those), oldest first."""
        return await self._all(
            select(Lead)
            .where(
                Lead.workflow_started_at.is_(None),
                Lead.created_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than.total_seconds()),
                not_in_open_job(Lead.tenant_id, Lead.id),
            )
            .order_by(Lead.created_at)
            .limit(limit)
        )

    async def get_by_phone(self, *, tenant_id: uuid.UUID, phone: str) -> Lead | None:
        result = await self.session.execute(select(Lead).where(Lead.tenant_id == tenant_id, Lead.phone == phone))
        return result.scalar_one_or_none()

    async def get_by_create_idempotency_key(self, *, tenant_id: uuid.UUID, key: str) -> Lead | None:
        result = await self.session.execute(
            select(Lead).where(Lead.tenant_id == tenant_id, Lead.create_idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def set_status(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, status_key: str, stage: str) -> bool:
        """Write the lead's status; False when the lead no longer exists. Safe to repeat."""
        return await self._touched(
            update(Lead)
            .where(Lead.tenant_id == tenant_id, Lead.id == lead_id)
            .values(status_key=status_key, stage=stage)
        )

    async def insert_if_missing(self, values: dict[str, Any]) -> Lead | None:
        """Insert one lead unless its phone exists in its tenant: the new lead (as stored), or None."""
        created = await self.session.scalars(
            insert(Lead)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Lead.tenant_id, Lead.phone])
            .returning(Lead),
            execution_options={"populate_existing": True},
        )
        return created.one_or_none()

    async def insert_many_skip_existing(self, rows: Sequence[dict[str, Any]]) -> dict[str, uuid.UUID]:
        """Insert rows in one statement; a row whose phone already exists in its tenant is skipped (not an error).

        Returns phone -> id of the rows actually inserted. Each row is all-or-nothing by itself.
        """
        if not rows:
            return {}
        table = cast(Table, Lead.__table__)
        # One statement executed for many parameter sets: SQLAlchemy batches it as multi-row INSERTs
        # ("insertmanyvalues") with a cached compilation, far cheaper than compiling one giant VALUES list.
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.tenant_id, table.c.phone])
            .returning(table.c.phone, table.c.id)
        )
        result = await self.session.execute(statement, list(rows))
        return {phone: lead_id for phone, lead_id in result.all()}

    async def record_created_events(
        self, *, tenant_id: uuid.UUID, actor: str, events: Sequence[tuple[uuid.UUID, dict[str, Any]]]
    ) -> None:
        """The `created` timeline event of many new leads in one statement (a bulk import); (lead id, data) pairs.

        Same idempotency key as a single create (`lead:<id>:created`), so no lead ever gets two.
        """
        if not events:
            return
        rows = [
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "lead_id": lead_id,
                "kind": LEAD_CREATED,
                "actor": actor,
                "data": data,
                "idempotency_key": lead_created_key(lead_id),
            }
            for lead_id, data in events
        ]
        table = cast(Table, TimelineEvent.__table__)
        statement = insert(table).on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
        await self.session.execute(statement, rows)

    async def ids_by_phone(self, *, tenant_id: uuid.UUID, phones: Sequence[str]) -> dict[str, uuid.UUID]:
        if not phones:
            return {}
        result = await self.session.execute(
            select(Lead.phone, Lead.id).where(Lead.tenant_id == tenant_id, Lead.phone.in_(list(phones)))
        )
        return {phone: lead_id for phone, lead_id in result.all()}

    async def search(
        self,
        *,
        tenant_id: uuid.UUID,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None = None,
        status_key: str | None = None,
        stage: str | None = None,
        owner_id: uuid.UUID | None = None,
        search: LeadSearch | None = None,
    ) -> list[Lead]:
        """Newest first, keyset-paginated on (created_at, id) strictly below `after`; `search`: those it matches."""
        conditions: list[ColumnElement[bool]] = [Lead.tenant_id == tenant_id]
        if status_key is not None:
            conditions.append(Lead.status_key == status_key)
        if stage is not None:
            conditions.append(Lead.stage == stage)
        if owner_id is not None:
            conditions.append(Lead.owner_id == owner_id)
        if search is not None:
            conditions.append(search.condition())
        if after is not None:
            conditions.append(tuple_(Lead.created_at, Lead.id) < tuple_(after[0], after[1]))
        return await self._newest(select(Lead).where(*conditions), limit)

    async def delete(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> bool:
        return await self._touched(delete(Lead).where(Lead.tenant_id == tenant_id, Lead.id == lead_id))

    async def count(self, *, tenant_id: uuid.UUID) -> int:
        result = await self.session.execute(select(func.count()).select_from(Lead).where(Lead.tenant_id == tenant_id))
        return int(result.scalar_one())

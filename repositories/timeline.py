"""SQL for the lead timeline. `record` is idempotent on its key, so an activity may run it twice.

Every way a lead comes to exist (POST /leads, a CSV import, a first WhatsApp message) records the same event:
kind `created`, key `lead:<id>:created`, data `source`, `status`, `phone`.

An event's `actor` is a string (`user:<id>`, `api_key:<id>`, `sequence:<id>`, `lead:<id>`, `ai_agent`, `system` …);
`list_for_lead_named` reads the display name of the person, key or sequence it names in the same query.
"""

import typing
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, Table, and_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import insert

from models import ApiKey, Lead, TimelineEvent, User
from models import Sequence as SequenceRow
from repositories.base import Repository
from repositories.users import display_name

LEAD_CREATED = "created"

_INSERT_CHUNK = 1000  # rows per INSERT statement (PostgreSQL's 65535 bind parameters)

# Built once on the Core table: every inbound message and many activities record an event (see
# repositories/webhook_events.py). With a key, a second recording of the same event inserts nothing.
_EVENTS = typing.cast(Table, TimelineEvent.__table__)
_INSERT = insert(_EVENTS).returning(_EVENTS.c.id)
_INSERT_ONCE = (
    insert(_EVENTS).on_conflict_do_nothing(index_elements=[_EVENTS.c.idempotency_key]).returning(_EVENTS.c.id)
)


def lead_created_key(lead_id: uuid.UUID) -> str:
    return f"lead:{lead_id}:created"


def lead_created_data(*, source: str, status_key: str, phone: str) -> dict[str, Any]:
    return {"source": source, "status": status_key, "phone": phone}


class TimelineRepository(Repository[TimelineEvent]):
    model = TimelineEvent

    async def record(
        self,
        *,
        tenant_id: uuid.UUID,
        lead_id: uuid.UUID,
        kind: str,
        actor: str,
        data: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
    ) -> bool:
        """Insert one event; False when an event with the same idempotency key already exists."""
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "lead_id": lead_id,
            "kind": kind,
            "actor": actor,
            "data": data or {},
            "idempotency_key": idempotency_key,
        }
        if occurred_at is not None:
            values["occurred_at"] = occurred_at
        result = await self.session.execute(_INSERT if idempotency_key is None else _INSERT_ONCE, values)
        return result.scalar_one_or_none() is not None

    async def record_lead_created(self, *, lead: Lead, actor: str) -> bool:
        """The new lead's `created` event; False when it already has one."""
        return await self.record(
            tenant_id=lead.tenant_id,
            lead_id=lead.id,
            kind=LEAD_CREATED,
            actor=actor,
            data=lead_created_data(source=lead.source, status_key=lead.status_key, phone=lead.phone),
            idempotency_key=lead_created_key(lead.id),
        )

    async def list_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int = 200) -> list[TimelineEvent]:
        return await self._all(
            select(TimelineEvent)
            .where(TimelineEvent.tenant_id == tenant_id, TimelineEvent.lead_id == lead_id)
            .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
            .limit(limit)
        )

    async def list_for_lead_named(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int = 200
    ) -> list[tuple[TimelineEvent, str | None]]:
        """`list_for_lead` with each actor's display name: a person's full name (their e-mail when they gave none),
        an API key's or a sequence's name; None for the rest, and for a person, key or sequence deleted since.

        One statement: the names are outer joins on the actor string, within the tenant (at most a page of events,
        so no lookup per event)."""
        name = func.coalesce(display_name(), ApiKey.name, SequenceRow.name)
        actor = TimelineEvent.actor
        rows = await self.session.execute(
            select(TimelineEvent, name)
            .outerjoin(User, and_(User.tenant_id == tenant_id, _names(actor, "user", User.id)))
            .outerjoin(ApiKey, and_(ApiKey.tenant_id == tenant_id, _names(actor, "api_key", ApiKey.id)))
            .outerjoin(SequenceRow, and_(SequenceRow.tenant_id == tenant_id, _names(actor, "sequence", SequenceRow.id)))
            .where(TimelineEvent.tenant_id == tenant_id, TimelineEvent.lead_id == lead_id)
            .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
            .limit(limit)
        )
        return [(event, actor_name) for event, actor_name in rows]

    async def record_many(self, events: Sequence[dict[str, Any]]) -> None:
        """Insert lead timeline events in a few statements (one per enrolled lead); a repeated key is skipped."""
        for start in range(0, len(events), _INSERT_CHUNK):
            await self.session.execute(
                insert(TimelineEvent)
                .values([{"id": uuid.uuid4(), **event} for event in events[start : start + _INSERT_CHUNK]])
                .on_conflict_do_nothing(index_elements=[TimelineEvent.idempotency_key])
            )


def _names(actor: SQLColumnExpression[str], prefix: str, row_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
    """Whether `actor` is `<prefix>:<row_id>`; compared as text, so an actor that is no uuid (`user:recorder`)
    simply names nobody."""
    return actor == literal(f"{prefix}:") + cast(row_id, String)

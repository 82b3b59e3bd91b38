"""SQL for raw webhook events: insert once per (provider, tenant, provider event id), mark when signalled."""

import uuid
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from models import WebhookEvent
from repositories.base import Repository

# Built once on the Core table: the dispatcher runs these for every event, and an ORM statement built per call costs
# more CPU than the database's own work for it.
_EVENTS = cast(Table, WebhookEvent.__table__)
_INSERT_ONCE = (
    insert(_EVENTS)
    .on_conflict_do_nothing(index_elements=[_EVENTS.c.provider, _EVENTS.c.tenant_id, _EVENTS.c.provider_event_id])
    .returning(_EVENTS.c.id)
)
_SET_LEAD = update(_EVENTS).where(_EVENTS.c.id == bindparam("event")).values(lead_id=bindparam("lead"))
_FIND = select(WebhookEvent).where(
    WebhookEvent.provider.in_(bindparam("providers", expanding=True)),
    WebhookEvent.tenant_id == bindparam("tenant"),
    WebhookEvent.provider_event_id.in_(bindparam("ids", expanding=True)),
)


class WebhookEventRepository(Repository[WebhookEvent]):
    model = WebhookEvent

    async def insert_once(
        self,
        *,
        provider: str,
        provider_event_id: str,
        kind: str,
        payload: dict[str, Any],
        tenant_id: uuid.UUID,
    ) -> uuid.UUID | None:
        """The new event's id, or None when this event was already stored (a repeated delivery)."""
        result = await self.session.execute(
            _INSERT_ONCE,
            {
                "id": uuid.uuid4(),
                "provider": provider,
                "provider_event_id": provider_event_id,
                "kind": kind,
                "payload": payload,
                "tenant_id": tenant_id,
            },
        )
        return result.scalar_one_or_none()

    async def get(self, *, provider: str, tenant_id: uuid.UUID, provider_event_id: str) -> WebhookEvent | None:
        result = await self.session.execute(
            select(WebhookEvent)
            .where(
                WebhookEvent.provider == provider,
                WebhookEvent.tenant_id == tenant_id,
                WebhookEvent.provider_event_id == provider_event_id,
            )
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def find(
        self, *, providers: tuple[str, ...], tenant_id: uuid.UUID, provider_event_ids: list[str]
    ) -> dict[tuple[str, str], WebhookEvent]:
        """The tenant's stored events among these ids of these providers, in one statement, by (provider, id)."""
        result = await self.session.execute(
            _FIND, {"providers": list(providers), "tenant": tenant_id, "ids": provider_event_ids}
        )
        return {(event.provider, event.provider_event_id): event for event in result.scalars()}

    async def set_lead(self, *, event_id: uuid.UUID, lead_id: uuid.UUID) -> None:
        await self.session.execute(_SET_LEAD, {"event": event_id, "lead": lead_id})

    async def mark_signalled(self, *, event_ids: list[uuid.UUID]) -> None:
        if event_ids:
            await self.session.execute(
                update(WebhookEvent).where(WebhookEvent.id.in_(event_ids)).values(signalled_at=func.now())
            )

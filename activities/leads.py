"""Activities of the LeadWorkflow: its writes to the CRM database. Thin, and safe to run twice.

Each takes one typed input (workflows/lead_types.py) and commits one transaction. A lead that no longer exists is a
permanent failure (`ApplicationError` type LeadGone, not retried): the workflow then ends.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.live_events import LiveEvent, LiveEvents, LiveEventType
from domain.notifications import NotificationKind
from repositories.leads import LeadRepository
from repositories.notifications import NotificationRepository
from repositories.timeline import TimelineRepository
from workflows.lead_types import (
    LEAD_GONE,
    MIRROR_STATUS_CHANGE,
    RECORD_SPEED_TO_LEAD_ALERT,
    SPEED_TO_LEAD_ALERT_EVENT,
    STATUS_CHANGED_EVENT,
    SpeedToLeadAlert,
    SpeedToLeadAlertResult,
    StatusChangeMirror,
)


def _lead_gone(lead_id: uuid.UUID) -> ApplicationError:
    return ApplicationError(f"lead {lead_id} no longer exists", type=LEAD_GONE, non_retryable=True)


class LeadActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], live: LiveEvents | None = None) -> None:
        self.session_factory = session_factory
        # Tells open web apps what changed, after each transaction commits (None: nobody is told).
        self.live = live

    @activity.defn(name=MIRROR_STATUS_CHANGE)
    async def mirror_status_change(self, change: StatusChangeMirror) -> None:
        """Write the accepted status to the lead row and a `status_changed` timeline event, in one transaction."""
        async with self.session_factory() as session, session.begin():
            found = await LeadRepository(session).set_status(
                tenant_id=change.tenant_id,
                lead_id=change.lead_id,
                status_key=change.to_status_key,
                stage=change.to_stage,
            )
            if not found:
                raise _lead_gone(change.lead_id)
            # A repeated run finds its event already there (same key) and writes the same status again: no change.
            await TimelineRepository(session).record(
                tenant_id=change.tenant_id,
                lead_id=change.lead_id,
                kind=STATUS_CHANGED_EVENT,
                actor=change.actor,
                data={
                    "from": change.from_status_key,
                    "to": change.to_status_key,
                    "from_stage": change.from_stage.value,
                    "to_stage": change.to_stage.value,
                    "reason": change.reason,
                },
                idempotency_key=change.idempotency_key,
                occurred_at=change.occurred_at,
            )
        if self.live is not None:
            data = {"lead_id": str(change.lead_id)}
            await self.live.publish(LiveEvent(tenant_id=change.tenant_id, type=LiveEventType.LEAD_CHANGED, data=data))

    @activity.defn(name=RECORD_SPEED_TO_LEAD_ALERT)
    async def record_speed_to_lead_alert(self, alert: SpeedToLeadAlert) -> SpeedToLeadAlertResult:
        """Record the alert for whoever owns the lead now: the row is the truth, the workflow may lag a reassignment."""
        async with self.session_factory() as session, session.begin():
            lead = await LeadRepository(session).get(tenant_id=alert.tenant_id, lead_id=alert.lead_id)
            if lead is None:
                raise _lead_gone(alert.lead_id)
            notifications = NotificationRepository(session)
            people = [lead.owner_id] if lead.owner_id else await notifications.tenant_managers(tenant_id=lead.tenant_id)
            notified = await notifications.notify(
                tenant_id=alert.tenant_id,
                user_ids=people,
                kind=NotificationKind.SPEED_TO_LEAD,
                title=f"{lead.name or lead.phone} was not contacted within {alert.minutes} minutes",
                lead_id=lead.id,
                key=alert.idempotency_key,
            )
            recorded = await TimelineRepository(session).record(
                tenant_id=alert.tenant_id,
                lead_id=alert.lead_id,
                kind=SPEED_TO_LEAD_ALERT_EVENT,
                actor="system",
                data={
                    "owner_id": str(lead.owner_id) if lead.owner_id else None,
                    "minutes": alert.minutes,
                    "status": alert.status_key,
                    "due_at": alert.due_at.isoformat(),
                },
                idempotency_key=alert.idempotency_key,
            )
            owner_id = lead.owner_id
        await self._notified(alert.tenant_id, alert.lead_id, notified)
        return SpeedToLeadAlertResult(recorded=recorded, owner_id=owner_id)

    async def _notified(self, tenant_id: uuid.UUID, lead_id: uuid.UUID, people: list[uuid.UUID]) -> None:
        if self.live is not None:
            data = {"lead_id": str(lead_id)}
            kind = LiveEventType.NOTIFICATION_CREATED
            await self.live.publish(*(LiveEvent(tenant_id, kind, data, user_id=person) for person in people))

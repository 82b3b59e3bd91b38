"""SQL for calls: one row per attempt, written by the API (its creation), the dispatcher (Twilio's callbacks,
forward-only) and the call's workflow (its mirror)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert

from models import Call
from repositories.base import Repository

# The rank of each status (domain/calls.py `status_rank`), in SQL: an update never moves a row to a lower rank.
_RANKS = {"queued": 0, "dialing": 1, "initiated": 2, "ringing": 3, "in-progress": 4}


def _rank(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in _RANKS.items()), else_=5)


def _rank_of(status: str) -> int:
    return _RANKS.get(status, 5)


class CallRepository(Repository[Call]):
    model = Call

    async def get(self, call_id: uuid.UUID) -> Call | None:
        return await self.by_id(call_id)

    async def get_by_sid(self, provider_sid: str) -> Call | None:
        if not provider_sid:
            return None
        result = await self.session.execute(select(Call).where(Call.provider_sid == provider_sid))
        return result.scalar_one_or_none()

    async def get_for_tenant(self, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> Call | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=call_id)

    async def list_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int = 100) -> list[Call]:
        return await self._all(
            select(Call)
            .where(Call.tenant_id == tenant_id, Call.lead_id == lead_id)
            .order_by(Call.created_at.desc(), Call.id)
            .limit(limit)
        )

    async def latest_attempt(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(Call.attempt)
            .where(Call.tenant_id == tenant_id, Call.lead_id == lead_id, Call.direction == "outbound")
            .order_by(Call.attempt.desc())
            .limit(1)
        )
        return result.scalar_one_or_none() or 0

    async def insert_if_missing(self, values: dict[str, Any]) -> Call:
        """The row of (tenant, lead, attempt_key): inserted unless it exists, then read (safe to run twice)."""
        statement = (
            insert(Call).values(**values).on_conflict_do_nothing(index_elements=["tenant_id", "lead_id", "attempt_key"])
        )
        await self.session.execute(statement)
        result = await self.session.execute(
            select(Call).where(
                Call.tenant_id == values["tenant_id"],
                Call.lead_id == values["lead_id"],
                Call.attempt_key == values["attempt_key"],
            )
        )
        return result.scalar_one()

    async def mark_dial_started(self, *, call_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(
                dial_started_at=at,
                status=case((_rank(Call.status) < _rank_of("dialing"), "dialing"), else_=Call.status),
            )
        )

    async def store_provider_sid(self, *, call_id: uuid.UUID, provider_sid: str) -> bool:
        """Record the SID Twilio gave this attempt, unless one is stored already; True when this one is stored."""
        return await self._touched(
            update(Call).where(Call.id == call_id, Call.provider_sid.is_(None)).values(provider_sid=provider_sid)
        )

    async def apply_status(
        self,
        *,
        call_id: uuid.UUID,
        status: str,
        at: datetime | None,
        duration_seconds: int | None,
    ) -> bool:
        """Move the row to `status` if later than the stored one (callbacks arrive out of order); True if moved."""
        values: dict[str, Any] = {"status": status}
        if status == "in-progress" and at is not None:
            values["answered_at"] = at
        if _rank_of(status) == 5:
            values["ended_at"] = at
            if duration_seconds is not None:
                values["duration_seconds"] = duration_seconds
        return await self._touched(
            update(Call).where(Call.id == call_id, _rank(Call.status) < _rank_of(status)).values(**values)
        )

    async def set_answered_by(self, *, call_id: uuid.UUID, answered_by: str) -> None:
        await self.session.execute(update(Call).where(Call.id == call_id).values(answered_by=answered_by))

    async def set_recording(
        self, *, call_id: uuid.UUID, recording_sid: str, recording_url: str, duration_seconds: int | None
    ) -> None:
        await self.session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(
                recording_sid=recording_sid, recording_url=recording_url, recording_duration_seconds=duration_seconds
            )
        )

    async def mirror(self, *, call_id: uuid.UUID, values: dict[str, Any], status: str) -> None:
        """The workflow's view onto the row; the status only ever moves forward."""
        await self.session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(
                **values,
                status=case((_rank(Call.status) < _rank_of(status), status), else_=Call.status),
            )
        )

"""SQL for AI drafts: create once per turn, read one in a tenant, list pending ones, move a pending one on."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from models import AiDraft
from repositories.base import Repository


class AiDraftRepository(Repository[AiDraft]):
    model = AiDraft

    async def create_once(self, values: dict[str, Any]) -> AiDraft:
        """The draft of `values["turn_key"]`, inserted if absent (a re-run returns the first one)."""
        await self.session.execute(
            insert(AiDraft)
            .values(id=uuid.uuid4(), status="pending", **values)
            .on_conflict_do_nothing(index_elements=[AiDraft.turn_key])
        )
        result = await self.session.execute(
            select(AiDraft).where(AiDraft.turn_key == values["turn_key"]).execution_options(populate_existing=True)
        )
        return result.scalar_one()

    async def get(self, *, tenant_id: uuid.UUID, draft_id: uuid.UUID) -> AiDraft | None:
        result = await self.session.execute(
            select(AiDraft).where(AiDraft.tenant_id == tenant_id, AiDraft.id == draft_id)
        )
        return result.scalar_one_or_none()

    async def list(
        self, *, tenant_id: uuid.UUID, status: str | None, lead_id: uuid.UUID | None, limit: int
    ) -> list[AiDraft]:
        query = select(AiDraft).where(AiDraft.tenant_id == tenant_id)
        if status is not None:
            query = query.where(AiDraft.status == status)
        if lead_id is not None:
            query = query.where(AiDraft.lead_id == lead_id)
        result = await self.session.execute(query.order_by(AiDraft.created_at.desc(), AiDraft.id).limit(limit))
        return list(result.scalars())

    async def settle(self, *, draft_id: uuid.UUID, values: dict[str, Any], at: datetime) -> bool:
        """Move a pending draft to its outcome; False when it was settled before (the first outcome stands)."""
        result = await self.session.execute(
            update(AiDraft)
            .where(AiDraft.id == draft_id, AiDraft.status == "pending")
            .values(decided_at=at, **values)
            .returning(AiDraft.id)
        )
        return result.scalar_one_or_none() is not None

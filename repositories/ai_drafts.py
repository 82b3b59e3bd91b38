"""SQL for AI drafts: create once per turn, read one in a tenant, list pending ones, move a pending one on."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from models import AiDraft
from repositories.base import Repository


class AiDraftRepository(Repository[AiDraft]):
    model = AiDraft

    async def create_once(self, values: dict[str, Any]) -> AiDraft:
        """The draft of `values["turn_key"]`, inserted if absent (a re-run returns the first one)."""
        return await self._insert_once("turn_key", values, status="pending")

    async def get(self, *, tenant_id: uuid.UUID, draft_id: uuid.UUID) -> AiDraft | None:
        result = await self.session.execute(
            select(AiDraft).where(AiDraft.tenant_id == tenant_id, AiDraft.id == draft_id)
        )
        return result.scalar_one_or_none()

    async def list(
        self, *, tenant_id: uuid.UUID, status: str | None, lead_id: uuid.UUID | None, limit: int
    ) -> list[AiDraft]:
        query = self._where_given(select(AiDraft).where(AiDraft.tenant_id == tenant_id), status=status, lead_id=lead_id)
        return await self._all(query.order_by(AiDraft.created_at.desc(), AiDraft.id).limit(limit))

    async def settle(self, *, draft_id: uuid.UUID, values: dict[str, Any], at: datetime) -> bool:
        """Move a pending draft to its outcome; False when it was settled before (the first outcome stands)."""
        return await self._touched(
            update(AiDraft).where(AiDraft.id == draft_id, AiDraft.status == "pending").values(decided_at=at, **values)
        )

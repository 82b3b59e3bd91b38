"""AI drafts: list them; approve (optionally edited) or reject one through its lead's workflow."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.ai import DraftList, DraftPublic
from repositories.ai_drafts import AiDraftRepository


async def list_drafts(
    *, session: AsyncSession, tenant_id: uuid.UUID, status: str | None, lead_id: uuid.UUID | None, limit: int
) -> DraftList:
    rows = await AiDraftRepository(session).list(tenant_id=tenant_id, status=status, lead_id=lead_id, limit=limit)
    return DraftList(items=[DraftPublic.model_validate(row, from_attributes=True) for row in rows])

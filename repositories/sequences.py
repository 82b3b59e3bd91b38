"""SQL for sequence drafts and their published versions. Every read is scoped by tenant."""

import builtins
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Sequence, SequenceVersion


class SequenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, sequence: Sequence) -> Sequence:
        self.session.add(sequence)
        await self.session.flush()
        await self.session.refresh(sequence)
        return sequence

    async def get(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, for_update: bool = False) -> Sequence | None:
        """The sequence; `for_update` locks it until commit (publish numbers versions under this lock)."""
        statement = select(Sequence).where(Sequence.tenant_id == tenant_id, Sequence.id == sequence_id)
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def list(self, *, tenant_id: uuid.UUID, status: str | None = None, limit: int = 200) -> list[Sequence]:
        """Newest first."""
        statement = select(Sequence).where(Sequence.tenant_id == tenant_id)
        if status is not None:
            statement = statement.where(Sequence.status == status)
        result = await self.session.execute(
            statement.order_by(Sequence.created_at.desc(), Sequence.id.desc()).limit(limit)
        )
        return list(result.scalars())

    async def refresh(self, sequence: Sequence) -> Sequence:
        """Flush pending changes and re-read server-side columns (updated_at)."""
        await self.session.flush()
        await self.session.refresh(sequence)
        return sequence

    async def add_version(self, version: SequenceVersion) -> SequenceVersion:
        """Insert and flush, so a taken (sequence, version) surfaces here as an IntegrityError."""
        self.session.add(version)
        await self.session.flush()
        await self.session.refresh(version)
        return version

    async def get_version(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, version: int
    ) -> SequenceVersion | None:
        result = await self.session.execute(
            select(SequenceVersion).where(
                SequenceVersion.tenant_id == tenant_id,
                SequenceVersion.sequence_id == sequence_id,
                SequenceVersion.version == version,
            )
        )
        return result.scalar_one_or_none()

    async def get_version_by_id(self, *, tenant_id: uuid.UUID, version_id: uuid.UUID) -> SequenceVersion | None:
        result = await self.session.execute(
            select(SequenceVersion).where(SequenceVersion.tenant_id == tenant_id, SequenceVersion.id == version_id)
        )
        return result.scalar_one_or_none()

    async def list_versions(self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> builtins.list[SequenceVersion]:
        """Newest first."""
        result = await self.session.execute(
            select(SequenceVersion)
            .where(SequenceVersion.tenant_id == tenant_id, SequenceVersion.sequence_id == sequence_id)
            .order_by(SequenceVersion.version.desc())
        )
        return list(result.scalars())

    async def max_version(self, *, sequence_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.coalesce(func.max(SequenceVersion.version), 0)).where(
                SequenceVersion.sequence_id == sequence_id
            )
        )
        return int(result.scalar_one())

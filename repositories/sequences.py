"""SQL for sequences: drafts and published versions (enrollments: repositories/enrollments.py).

Every read is scoped by tenant: another tenant's row is simply not found.
"""

import builtins
import uuid

from sqlalchemy import func, select

from models import Sequence as SequenceRow
from models import SequenceVersion
from repositories.base import Repository


class SequenceRepository(Repository[SequenceRow]):
    model = SequenceRow

    async def get(
        self, *, tenant_id: uuid.UUID, sequence_id: uuid.UUID, for_update: bool = False
    ) -> SequenceRow | None:
        """The sequence; `for_update` locks it until commit (publish numbers versions under this lock)."""
        statement = select(SequenceRow).where(SequenceRow.tenant_id == tenant_id, SequenceRow.id == sequence_id)
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def get_by_create_idempotency_key(self, *, tenant_id: uuid.UUID, key: str) -> SequenceRow | None:
        result = await self.session.execute(
            select(SequenceRow).where(SequenceRow.tenant_id == tenant_id, SequenceRow.create_idempotency_key == key)
        )
        return result.scalar_one_or_none()

    async def list(self, *, tenant_id: uuid.UUID, status: str | None = None, limit: int = 200) -> list[SequenceRow]:
        """Newest first."""
        statement = select(SequenceRow).where(SequenceRow.tenant_id == tenant_id)
        return await self._newest(self._where_given(statement, status=status), limit)

    async def refresh(self, sequence: SequenceRow) -> SequenceRow:
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

"""SQL for shard assignments (tenant -> Evolution shard). Only channels/whatsapp/shard_router.py calls it."""

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from models import ShardAssignment
from repositories.base import Repository


class ShardRepository(Repository[ShardAssignment]):
    model = ShardAssignment

    async def get(self, *, tenant_id: uuid.UUID) -> ShardAssignment | None:
        return await self.session.get(ShardAssignment, tenant_id, populate_existing=True)

    async def counts(self) -> dict[str, int]:
        result = await self.session.execute(select(ShardAssignment.shard, func.count()).group_by(ShardAssignment.shard))
        return {shard: int(count) for shard, count in result.all()}

    async def lock_assignments(self) -> None:
        """Serialise assignment decisions across processes, so two tenants assigned at once still spread evenly."""
        await self.session.execute(select(func.pg_advisory_xact_lock(0x5A4D_0001)))

    async def insert_if_absent(self, *, tenant_id: uuid.UUID, shard: str) -> ShardAssignment:
        await self.session.execute(
            insert(ShardAssignment)
            .values(tenant_id=tenant_id, shard=shard)
            .on_conflict_do_nothing(index_elements=[ShardAssignment.tenant_id])
        )
        assignment = await self.get(tenant_id=tenant_id)
        assert assignment is not None
        return assignment

    async def move(self, *, tenant_id: uuid.UUID, shard: str) -> None:
        await self.session.execute(
            update(ShardAssignment)
            .where(ShardAssignment.tenant_id == tenant_id)
            .values(shard=shard, moved_at=func.now())
        )

    async def tenant_ids_on(self, *, shard: str) -> list[uuid.UUID]:
        result = await self.session.execute(
            select(ShardAssignment.tenant_id)
            .where(ShardAssignment.shard == shard)
            .order_by(ShardAssignment.assigned_at, ShardAssignment.tenant_id)
        )
        return list(result.scalars())

"""The one module that decides which Evolution API instance (shard) serves a tenant.

Contract: a tenant's shard is chosen once, on first need, as the configured shard with the fewest tenants (ties go
to the earlier one in `Settings.whatsapp_evolution_shards`), stored in `shard_assignment`, and from then on stable:
it changes only through `move` (a system_admin call). Concurrent first assignments are serialised by a database
advisory lock, so several API/worker processes still spread tenants evenly.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import EvolutionShard
from core.errors import NotFound, ServiceUnavailable, Unprocessable
from repositories.shards import ShardRepository


class ShardRouter:
    def __init__(self, shards: Sequence[EvolutionShard]) -> None:
        self._shards = {shard.name: shard for shard in shards}
        self._order = [shard.name for shard in shards]

    @property
    def names(self) -> list[str]:
        return list(self._order)

    def by_name(self, name: str) -> EvolutionShard | None:
        return self._shards.get(name)

    async def shard_for(self, session: AsyncSession, *, tenant_id: uuid.UUID) -> EvolutionShard:
        """The tenant's shard, assigning the least-loaded one on first use. The caller commits."""
        repository = ShardRepository(session)
        assignment = await repository.get(tenant_id=tenant_id)
        if assignment is None:
            if not self._order:
                raise ServiceUnavailable(
                    "no Evolution API shard is configured (set LEADFLOW_WHATSAPP_EVOLUTION_SHARDS)"
                )
            await repository.lock_assignments()
            counts = await repository.counts()
            chosen = min(self._order, key=lambda name: (counts.get(name, 0), self._order.index(name)))
            assignment = await repository.insert_if_absent(tenant_id=tenant_id, shard=chosen)
        shard = self._shards.get(assignment.shard)
        if shard is None:
            raise ServiceUnavailable(
                f"this tenant is assigned to shard '{assignment.shard}', which is no longer configured; "
                "a system admin must move it to a configured shard"
            )
        return shard

    async def current(self, session: AsyncSession, *, tenant_id: uuid.UUID) -> str | None:
        assignment = await ShardRepository(session).get(tenant_id=tenant_id)
        return None if assignment is None else assignment.shard

    async def move(self, session: AsyncSession, *, tenant_id: uuid.UUID, shard_name: str) -> EvolutionShard:
        """Reassign the tenant to `shard_name` (assigning it there if it had none). The caller commits."""
        shard = self._shards.get(shard_name)
        if shard is None:
            raise Unprocessable(f"unknown shard '{shard_name}'", details={"configured_shards": self.names})
        repository = ShardRepository(session)
        await repository.lock_assignments()
        assignment = await repository.insert_if_absent(tenant_id=tenant_id, shard=shard_name)
        if assignment.shard != shard_name:
            await repository.move(tenant_id=tenant_id, shard=shard_name)
        return shard

    async def tenants_on(self, session: AsyncSession, *, shard_name: str) -> list[uuid.UUID]:
        if shard_name not in self._shards:
            raise NotFound(f"no shard named '{shard_name}' is configured")
        return await ShardRepository(session).tenant_ids_on(shard=shard_name)

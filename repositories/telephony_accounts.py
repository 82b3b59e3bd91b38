"""SQL for tenants' telephony accounts: by tenant, or by id (the id an inbound voice webhook URL carries)."""

import uuid

from sqlalchemy import select

from models import TelephonyAccount
from repositories.base import Repository


class TelephonyAccountRepository(Repository[TelephonyAccount]):
    model = TelephonyAccount

    async def get_for_tenant(self, *, tenant_id: uuid.UUID) -> TelephonyAccount | None:
        result = await self.session.execute(select(TelephonyAccount).where(TelephonyAccount.tenant_id == tenant_id))
        return result.scalar_one_or_none()

    async def get(self, account_id: uuid.UUID) -> TelephonyAccount | None:
        return await self.by_id(account_id)

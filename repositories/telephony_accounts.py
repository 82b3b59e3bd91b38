"""SQL for tenants' telephony accounts: by tenant, or by id (the id an inbound voice webhook URL carries)."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import TelephonyAccount


class TelephonyAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_for_tenant(self, *, tenant_id: uuid.UUID) -> TelephonyAccount | None:
        result = await self.session.execute(select(TelephonyAccount).where(TelephonyAccount.tenant_id == tenant_id))
        return result.scalar_one_or_none()

    async def get(self, account_id: uuid.UUID) -> TelephonyAccount | None:
        return await self.session.get(TelephonyAccount, account_id)

    async def add(self, account: TelephonyAccount) -> TelephonyAccount:
        self.session.add(account)
        await self.session.flush()
        return account

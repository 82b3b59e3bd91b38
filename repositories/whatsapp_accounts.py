"""SQL for tenants' WhatsApp accounts: read by tenant, by webhook phone number id, by handshake verify token, or all
Meta-signed ones (webhooks that name no phone number)."""

import uuid

from sqlalchemy import select

from models import WhatsAppAccount
from repositories.base import Repository


class WhatsAppAccountRepository(Repository[WhatsAppAccount]):
    model = WhatsAppAccount

    async def get_for_tenant(self, *, tenant_id: uuid.UUID) -> WhatsAppAccount | None:
        result = await self.session.execute(select(WhatsAppAccount).where(WhatsAppAccount.tenant_id == tenant_id))
        return result.scalar_one_or_none()

    async def get_by_phone_number_ids(self, phone_number_ids: list[str]) -> dict[str, WhatsAppAccount]:
        if not phone_number_ids:
            return {}
        result = await self.session.execute(
            select(WhatsAppAccount).where(WhatsAppAccount.phone_number_id.in_(phone_number_ids))
        )
        return {account.phone_number_id or "": account for account in result.scalars()}

    async def list_meta_signed(self) -> list[WhatsAppAccount]:
        """Accounts whose webhooks Meta (or the sandbox, which signs like Meta) signs with an app secret."""
        return await self._all(select(WhatsAppAccount).where(WhatsAppAccount.provider.in_(("cloud", "sandbox"))))

    async def verify_tokens(self) -> list[str]:
        """Every configured verify token (the GET handshake names no phone number, only the token)."""
        result = await self.session.execute(
            select(WhatsAppAccount.verify_token).where(WhatsAppAccount.verify_token.is_not(None)).distinct()
        )
        return [token for token in result.scalars() if token]

    async def get_by_phone_number_id(self, phone_number_id: str) -> WhatsAppAccount | None:
        result = await self.session.execute(
            select(WhatsAppAccount).where(WhatsAppAccount.phone_number_id == phone_number_id)
        )
        return result.scalar_one_or_none()

"""SQL for tenants' WhatsApp accounts: read by tenant, by webhook phone number id, by handshake verify token, or all
Meta-signed ones (webhooks that name no phone number)."""

import uuid

from sqlalchemy import bindparam, select

from models import Lead, WhatsAppAccount
from repositories.base import Repository

# Read before every send is paced (channels/whatsapp/outbox.py): built once.
_SENDER_FOR_LEAD = (
    select(WhatsAppAccount, Lead.phone)
    .join(Lead, Lead.tenant_id == WhatsAppAccount.tenant_id)
    .where(Lead.tenant_id == bindparam("tenant"), Lead.id == bindparam("lead"))
)


class WhatsAppAccountRepository(Repository[WhatsAppAccount]):
    model = WhatsAppAccount

    async def get_for_tenant(self, *, tenant_id: uuid.UUID) -> WhatsAppAccount | None:
        result = await self.session.execute(select(WhatsAppAccount).where(WhatsAppAccount.tenant_id == tenant_id))
        return result.scalar_one_or_none()

    async def sender_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> tuple[WhatsAppAccount, str] | None:
        """The tenant's account and the lead's phone, in one statement; None when either is missing."""
        found = (await self.session.execute(_SENDER_FOR_LEAD, {"tenant": tenant_id, "lead": lead_id})).one_or_none()
        return None if found is None else (found[0], found[1])

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

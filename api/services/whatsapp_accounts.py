"""A tenant's WhatsApp account settings (secrets write-only) and the system admin's shard moves."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.base import from_row
from api.schemas.whatsapp import ShardAssignmentPublic, WhatsAppAccountPublic, WhatsAppAccountUpdate
from api.services.provider_accounts import refuse_sandbox_in_prod
from channels.whatsapp.shard_router import ShardRouter
from core.config import Settings
from core.errors import Conflict, NotFound, Unprocessable
from core.secret_box import SecretBox
from models import WhatsAppAccount
from repositories.tenants import TenantRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository


def _public(account: WhatsAppAccount, *, shard: str | None, settings: Settings) -> WhatsAppAccountPublic:
    base = settings.public_base_url.rstrip("/")
    webhook_url = (
        f"{base}/webhooks/whatsapp/evolution/{shard}"
        if account.provider == "evolution" and shard
        else f"{base}/webhooks/whatsapp/cloud"
    )
    return from_row(
        WhatsAppAccountPublic,
        account,
        has_access_token=bool(account.access_token),
        has_app_secret=bool(account.app_secret),
        has_verify_token=bool(account.verify_token),
        shard=shard,
        webhook_url=webhook_url,
    )


async def get_account(
    *, session: AsyncSession, tenant_id: uuid.UUID, router: ShardRouter, settings: Settings
) -> WhatsAppAccountPublic:
    account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    if account is None:
        raise NotFound("this tenant has no WhatsApp account yet: PUT /api/v1/whatsapp/account to configure it")
    return _public(account, shard=await router.current(session, tenant_id=tenant_id), settings=settings)


def _merge_secret(current: str | None, given: str | None, box: SecretBox) -> str | None:
    """Left out: keep what is stored; empty: forget it; otherwise store the new value sealed."""
    if given is None:
        return current
    return box.seal(given) if given else None


async def put_account(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    data: WhatsAppAccountUpdate,
    router: ShardRouter,
    settings: Settings,
) -> WhatsAppAccountPublic:
    """Create or replace the account. Evolution tenants get their shard assigned here (stable from then on)."""
    refuse_sandbox_in_prod(
        data.provider,
        settings,
        why="its credentials are built in, so anyone could forge this tenant's webhooks; use 'cloud' or 'evolution'",
    )
    if data.provider == "evolution" and not router.names:
        # The caller can act on this (choose another provider); it is no outage, so not the router's 503.
        raise Unprocessable(
            "provider: 'evolution' is not available on this server, which has no Evolution API shard configured "
            "(LEADFLOW_WHATSAPP_EVOLUTION_SHARDS); choose 'cloud'",
            details=[{"field": "provider", "reason": "no Evolution API shard is configured", "value": "evolution"}],
        )
    repository = WhatsAppAccountRepository(session)
    account = await repository.get_for_tenant(tenant_id=tenant_id)
    if account is None:
        account = repository.stage(WhatsAppAccount(tenant_id=tenant_id, provider=data.provider))
    account.provider = data.provider
    account.display_number = data.display_number
    box = SecretBox.for_settings(settings)
    account.access_token = _merge_secret(account.access_token, data.access_token, box)
    account.app_secret = _merge_secret(account.app_secret, data.app_secret, box)
    account.verify_token = _merge_secret(account.verify_token, data.verify_token, box)
    phone_number_id = data.phone_number_id
    if data.provider == "sandbox":
        phone_number_id = phone_number_id or settings.whatsapp_sandbox_phone_number_id
    account.phone_number_id = phone_number_id
    missing = []
    if data.provider == "cloud":
        missing = [
            name
            for name, value in (
                ("phone_number_id", account.phone_number_id),
                ("access_token", account.access_token),
                ("app_secret", account.app_secret),
            )
            if not value
        ]
    if missing:
        raise Unprocessable(
            f"a cloud account needs {', '.join(missing)}", details=[{"field": f, "reason": "required"} for f in missing]
        )
    shard = None
    if data.provider == "evolution":
        shard = (await router.shard_for(session, tenant_id=tenant_id)).name
    try:
        await repository.flush()
    except IntegrityError:
        raise Conflict(
            f"phone number id {phone_number_id} is already used by another tenant's WhatsApp account",
            details=[{"field": "phone_number_id", "reason": "taken"}],
        ) from None
    await repository.refresh(account)
    return _public(account, shard=shard or await router.current(session, tenant_id=tenant_id), settings=settings)


async def move_shard(
    *, session: AsyncSession, tenant_id: uuid.UUID, shard_name: str, router: ShardRouter
) -> ShardAssignmentPublic:
    if await TenantRepository(session).get(tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} not found")
    shard = await router.move(session, tenant_id=tenant_id, shard_name=shard_name)
    return ShardAssignmentPublic(
        tenant_id=tenant_id, shard=shard.name, base_url=shard.base_url, instance=shard.instance
    )

"""Inbound WhatsApp webhooks, the request half: verify a delivery, parse it, name its inbox rows.

1. verify: Cloud: `X-Hub-Signature-256` over the raw body with the app secret of the account owning the delivery's
   `metadata.phone_number_id`, tried first with the secret that verified that account a moment ago
   (channels/whatsapp/signers.py); a delivery with no `messages` change names no phone number: any Cloud account's
   app secret verifies it, and it is acknowledged and ignored; Evolution: the shard's key. Unverified deliveries are
   refused before anything is stored.
2. parse: the provider's wire format (providers/whatsapp/meta_webhook.py, evolution_webhook.py) into events; a
   verified body of the wrong shape is a 400.
3. `store`: the delivery's events go into `webhook_inbox` in one insert, unique on the provider's event keys (a
   redelivery stores nothing and is still answered 200). The route answers once that insert commits; the
   dispatcher handles each stored event behind the answer (channels/whatsapp/inbound.py).
"""

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channels.whatsapp.inbox import inbox_rows
from channels.whatsapp.shard_router import ShardRouter
from channels.whatsapp.signers import SignerCache
from core.config import Settings
from core.errors import AppError, Forbidden, NotFound, ServiceUnavailable, Unauthorized
from core.secret_box import SecretBox, SecretUnreadable
from models import WhatsAppAccount
from providers.whatsapp import evolution_webhook, meta_webhook
from providers.whatsapp.events import WhatsAppEvent
from providers.whatsapp.payload import WebhookPayloadError
from providers.whatsapp.signatures import (
    EVOLUTION_SHARD_KEY_HEADER,
    SIGNATURE_HEADER,
    answer_verification_challenge,
    verify_evolution_key,
    verify_signature,
)
from repositories.webhook_inbox import WebhookInboxRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository

log = logging.getLogger(__name__)


class BadWebhookPayload(AppError):
    status_code = 400
    code = "bad_webhook_payload"


@dataclass(frozen=True, slots=True)
class VerifiedDelivery:
    """A verified delivery: how many events it carried, and the inbox rows of those of verified accounts."""

    received: int
    rows: list[dict[str, Any]]

    @property
    def tenant_ids(self) -> list[Any]:
        """The tenants the delivery's rows belong to, where the request knew them (Cloud)."""
        return [row["tenant_id"] for row in self.rows if row.get("tenant_id") is not None]


def parse_inbound(provider: str, payload: Any) -> list[WhatsAppEvent]:
    """The events of a verified delivery of `provider` (`cloud` or `evolution`); WebhookPayloadError otherwise."""
    if provider == "cloud":
        return meta_webhook.parse_meta_webhook(payload)
    if provider == "evolution":
        return evolution_webhook.parse_evolution_webhook(payload)
    raise WebhookPayloadError(f"no WhatsApp provider named {provider!r}")


def _decode(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except ValueError:
        return None


def app_secret_of(account: WhatsAppAccount, settings: Settings) -> str:
    """The secret Meta (or the sandbox, which signs like Meta) signs this account's webhooks with."""
    if account.provider == "sandbox" and not settings.sandbox_allowed:
        return ""  # no secret, no valid signature: in prod a sandbox account left in the database receives nothing
    if account.app_secret:
        try:
            return SecretBox.for_settings(settings).open(account.app_secret) or ""
        except SecretUnreadable as exc:
            log.error("WhatsApp account of tenant %s: %s", account.tenant_id, exc)
            # Our key is wrong, not the delivery: 503 makes the provider deliver again once the key is fixed.
            raise ServiceUnavailable(
                "this WhatsApp account's app secret cannot be read with the configured keys",
                headers={"Retry-After": "60"},
            ) from None
    return settings.whatsapp_sandbox_app_secret if account.provider == "sandbox" else ""


async def answer_handshake(*, session: AsyncSession, query: dict[str, str], settings: Settings) -> str:
    """The bare challenge when `hub.verify_token` is some account's verify token; otherwise 403."""
    box = SecretBox.for_settings(settings)
    tokens = []
    for stored in await WhatsAppAccountRepository(session).verify_tokens():
        try:
            tokens.append(box.open(stored) or "")
        except SecretUnreadable as exc:
            log.error("a WhatsApp verify token: %s", exc)
    for token in tokens:
        challenge = answer_verification_challenge(query, token)
        if challenge is not None:
            return challenge
    raise Forbidden("the verify token does not match any WhatsApp account (or hub.mode is not 'subscribe')")


async def accept_cloud_delivery(
    *, session: AsyncSession, raw_body: bytes, headers: Mapping[str, str], settings: Settings, signers: SignerCache
) -> VerifiedDelivery:
    """Verify a Cloud API delivery (401 otherwise), parse it (400) and name its inbox rows."""
    payload, tenants = await _verify_cloud(
        session=session,
        raw_body=raw_body,
        signature=headers.get(SIGNATURE_HEADER),
        settings=settings,
        signers=signers,
    )
    return _delivery(
        "cloud",
        payload,
        what="a WhatsApp Cloud API",
        account_for=lambda _: {number_id: number_id for number_id in tenants},
        tenant_for=dict(tenants),
    )


def _delivery(
    provider: str,
    payload: Any,
    *,
    what: str,
    account_for: Callable[[list[WhatsAppEvent]], dict[str, str]],
    tenant_for: dict[str, uuid.UUID | None],
) -> VerifiedDelivery:
    """A verified delivery's events (400 when it is not `what` webhook) and their inbox rows."""
    try:
        events = parse_inbound(provider, payload)
    except WebhookPayloadError as exc:
        raise BadWebhookPayload(f"not {what} webhook: {exc}") from None
    rows = inbox_rows(
        provider=provider, account_for=account_for(events), tenant_for=tenant_for, raw=payload, events=events
    )
    return VerifiedDelivery(received=len(events), rows=rows)


async def _verify_cloud(
    *, session: AsyncSession, raw_body: bytes, signature: str | None, settings: Settings, signers: SignerCache
) -> tuple[Any, dict[str, uuid.UUID]]:
    """The decoded body and the accounts whose app secret signed it (phone number id -> tenant); 401 otherwise.
    A secret that verified the account's deliveries a moment ago is tried first, without reading the account."""
    if not signature:
        raise Unauthorized("missing X-Hub-Signature-256 header")
    payload = _decode(raw_body)
    if not meta_webhook.carries_messages(payload):
        # Template status, account updates...: Meta names no phone number, only the business account. Answered 200
        # (events of no channel, ignored) once some account's app secret verifies it; refused, Meta would retry it
        # for days and may disable the subscription.
        if not await _signed_by_any_account(session=session, raw_body=raw_body, signature=signature, settings=settings):
            raise Unauthorized("X-Hub-Signature-256 does not match the app secret of any WhatsApp Cloud account")
        return payload, {}
    number_ids = meta_webhook.phone_number_ids(payload)
    verified: dict[str, uuid.UUID] = {}
    for number_id in number_ids:
        tenant_id = signers.tenant_verified(number_id, raw_body, signature)
        if tenant_id is not None:
            verified[number_id] = tenant_id
    unverified = [number_id for number_id in number_ids if number_id not in verified]
    read_at = signers.reading()
    for number_id, account in (await WhatsAppAccountRepository(session).get_by_phone_number_ids(unverified)).items():
        secret = app_secret_of(account, settings)
        if verify_signature(secret, raw_body, signature):
            verified[number_id] = account.tenant_id
            signers.remember(number_id, account.tenant_id, secret, read_at=read_at)
    if not verified:
        raise Unauthorized("X-Hub-Signature-256 does not match the app secret of the receiving WhatsApp account")
    return payload, verified


async def _signed_by_any_account(*, session: AsyncSession, raw_body: bytes, signature: str, settings: Settings) -> bool:
    """Whether the app secret of some Cloud or sandbox account signed `raw_body`.

    A secret no configured key opens is skipped: such a delivery is ignored anyway, so a redelivery would gain nothing.
    """
    secrets: set[str] = set()
    for account in await WhatsAppAccountRepository(session).list_meta_signed():
        try:
            secrets.add(app_secret_of(account, settings))
        except ServiceUnavailable:
            continue
    return any(verify_signature(secret, raw_body, signature) for secret in secrets)


def accept_evolution_delivery(
    *, router: ShardRouter, shard_name: str, raw_body: bytes, headers: Mapping[str, str]
) -> VerifiedDelivery:
    """Verify an Evolution shard's delivery (404 unknown shard, 401 wrong key), parse it (400), name its inbox rows."""
    shard = router.by_name(shard_name)
    if shard is None:
        raise NotFound(f"no Evolution shard named '{shard_name}' is configured")
    payload = _decode(raw_body)
    if not verify_evolution_key(
        shard.api_key,
        header_value=headers.get(EVOLUTION_SHARD_KEY_HEADER),
        body_apikey=evolution_webhook.body_apikey(payload),
    ):
        raise Unauthorized(f"the request does not carry shard '{shard_name}''s key")
    # The shard's key verified every event of the delivery; the dispatcher finds each event's tenant on the shard.
    return _delivery(
        "evolution",
        payload,
        what="an Evolution API",
        account_for=lambda events: {event.account_id: shard.name for event in events},
        tenant_for={},
    )


async def store(*, session: AsyncSession, delivery: VerifiedDelivery) -> int:
    """Store the delivery's events in the inbox (one insert, no commit here); how many were new."""
    return await WebhookInboxRepository(session).enqueue(delivery.rows)

"""A tenant's telephony account: Twilio credentials (auth token write-only, sealed) and call policy."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.base import from_row
from api.schemas.telephony import TelephonyAccountPublic, TelephonyAccountUpdate
from api.services.leads import parse_phone
from api.services.provider_accounts import refuse_sandbox_in_prod
from core.config import Settings
from core.errors import NotFound, Unprocessable
from core.secret_box import SecretBox
from domain.calls import VoiceScript
from models import TelephonyAccount
from repositories.telephony_accounts import TelephonyAccountRepository
from repositories.tenants import TenantRepository


def inbound_voice_url(settings: Settings, account_id: uuid.UUID) -> str:
    return f"{settings.public_base_url.rstrip('/')}/webhooks/twilio/voice/inbound/{account_id}"


def _public(account: TelephonyAccount, settings: Settings) -> TelephonyAccountPublic:
    return from_row(
        TelephonyAccountPublic,
        account,
        has_auth_token=bool(account.auth_token),
        caller_ids=list(account.caller_ids),
        voice_script=VoiceScript.model_validate(account.voice_script or {}),
        voice_url=inbound_voice_url(settings, account.id),
    )


async def get_account(*, session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> TelephonyAccountPublic:
    account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=tenant_id)
    if account is None:
        raise NotFound("this tenant has no telephony account yet: PUT /api/v1/telephony/account to configure it")
    return _public(account, settings)


def _check_policy(data: TelephonyAccountUpdate) -> None:
    problems = []
    if data.voicemail_policy == "drop_message" and not data.voicemail_message.strip():
        problems.append(("voicemail_message", "required when voicemail_policy is drop_message"))
    if data.human_answer_mode == "message" and not data.answer_message.strip():
        problems.append(("answer_message", "required when human_answer_mode is message"))
    if "agent" in (data.human_answer_mode, data.inbound_routing) and not data.agent_number:
        problems.append(("agent_number", "required when a person is connected to an agent"))
    if problems:
        raise Unprocessable(
            "; ".join(f"{field}: {reason}" for field, reason in problems),
            details=[{"field": field, "reason": reason} for field, reason in problems],
        )


async def put_account(
    *, session: AsyncSession, tenant_id: uuid.UUID, data: TelephonyAccountUpdate, settings: Settings
) -> TelephonyAccountPublic:
    """Create or replace the account; everything is checked before anything is written."""
    refuse_sandbox_in_prod(
        data.provider,
        settings,
        why="its auth token is built in, so anyone could forge this tenant's call callbacks; use 'twilio'",
    )
    _check_policy(data)
    tenant = await TenantRepository(session).get(tenant_id)
    region = tenant.default_region if tenant else settings.default_phone_region
    caller_ids = list(dict.fromkeys(parse_phone(raw, region=region, field="caller_ids") for raw in data.caller_ids))
    agent_number = parse_phone(data.agent_number, region=region, field="agent_number") if data.agent_number else None
    repository = TelephonyAccountRepository(session)
    account = await repository.get_for_tenant(tenant_id=tenant_id)
    if account is None:
        account = TelephonyAccount(tenant_id=tenant_id)
    token = account.auth_token
    if data.auth_token is not None:
        token = SecretBox.for_settings(settings).seal(data.auth_token) if data.auth_token else None
    if data.provider == "twilio" and not token:
        raise Unprocessable(
            "a twilio account needs its auth_token", details=[{"field": "auth_token", "reason": "required"}]
        )
    account.provider = data.provider
    account.account_sid = data.account_sid
    account.auth_token = token
    account.caller_ids = caller_ids
    account.agent_number = agent_number
    for field in (
        "concurrent_call_limit",
        "calls_per_second",
        "ring_timeout_seconds",
        "recording_enabled",
        "recording_consent_prompt",
        "voicemail_policy",
        "voicemail_message",
        "human_answer_mode",
        "answer_message",
        "retry_max_attempts",
        "retry_spacing_minutes",
        "inbound_routing",
    ):
        setattr(account, field, getattr(data, field))
    account.voice_script = data.voice_script.model_dump()
    await repository.add(account)
    await session.refresh(account)
    return _public(account, settings)

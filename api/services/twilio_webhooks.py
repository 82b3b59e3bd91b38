"""Twilio voice webhooks, the request half: verify, then store the event in the inbox or answer with TwiML.

1. verify: the call named in the path must exist and the query's `token` must be its attempt token; then
   `X-Twilio-Signature` must match the public URL (`LEADFLOW_PUBLIC_BASE_URL` + path + query) and the form, signed
   with the tenant's auth token. Anything else is 403 and nothing is stored.
2. callbacks (status, AMD, dial, recording) go into `webhook_inbox` (one insert, unique on Twilio's keys: a
   redelivery stores nothing) and are answered 200 once committed; the dispatcher applies them behind the answer
   (channels/voice/callbacks.py).
3. TwiML requests (answer, voice turn, inbound call) are answered from the call row, the tenant's account and, for a
   turn, the call's workflow (update `caller_said`).

Rate limits (api/webhook_limits.py): once verified, every request counts against its tenant's `webhook_tenant`
preset; an answer that makes Twilio speak counts against the tenant's `tts` preset. Past either: 429, nothing stored.
"""

import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.transaction import after_commit, end_reads
from api.webhook_limits import count_tts, limit_tts, limit_webhook_tenants
from channels.leads import lead_for_phone
from channels.voice import twiml
from channels.voice.callbacks import amd_event, dial_event, inbox_row, recording_event, status_event
from channels.voice.urls import CallUrls
from channels.voice.webhooks import TwilioRequest, signed_by
from core.config import Settings
from core.errors import AppError, Forbidden
from core.phone import InvalidPhone, normalize_phone
from core.rate_limits import RateLimiter
from models import Call, Lead, TelephonyAccount
from repositories.calls import CallRepository
from repositories.telephony_accounts import TelephonyAccountRepository
from repositories.tenants import TenantRepository
from repositories.webhook_inbox import WebhookInboxRepository
from workflow_clients.call import CallWorkflowClient
from workflow_clients.lead import LeadWorkflowClient
from workflows.call_types import (
    AnsweredByEvent,
    CallerUtterance,
    CallLink,
    CallStatusEvent,
    CallWorkflowInput,
    DialEvent,
    RecordingEvent,
)
from workflows.ids import call_workflow_id
from workflows.lead_types import RECORD_CALL_SIGNAL

log = logging.getLogger(__name__)

BAD_SIGNATURE = "X-Twilio-Signature does not match this request"


@dataclass(frozen=True, slots=True)
class TwilioHook:
    """One Twilio webhook request and what every handler needs to verify, store and answer it."""

    session: AsyncSession
    settings: Settings
    limits: RateLimiter
    request: TwilioRequest

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.params

    async def verified_call(self, call_id: uuid.UUID, token: str | None) -> tuple[Call, TelephonyAccount]:
        """The call named in the URL, proven by its attempt token and the tenant's signature; counted per tenant."""
        call = await CallRepository(self.session).get(call_id)
        if call is None or not token or not hmac.compare_digest(token.encode(), call.callback_token.encode()):
            raise Forbidden("this URL does not belong to a call of ours")
        account = await TelephonyAccountRepository(self.session).get_for_tenant(tenant_id=call.tenant_id)
        if account is None:
            raise Forbidden("the call's tenant has no telephony account")
        self._check_signature(account)
        await limit_webhook_tenants(self.limits, [call.tenant_id])
        return call, account

    async def verified_account(self, account_id: uuid.UUID) -> TelephonyAccount:
        account = await TelephonyAccountRepository(self.session).get(account_id)
        if account is None:
            raise Forbidden("no telephony account behind this URL")
        self._check_signature(account)
        await limit_webhook_tenants(self.limits, [account.tenant_id])
        return account

    def _check_signature(self, account: TelephonyAccount) -> None:
        if not signed_by(account, self.settings, self.request):
            raise Forbidden(BAD_SIGNATURE)

    def urls(self, call: Call) -> CallUrls:
        return CallUrls(base=self.settings.public_base_url, call_id=call.id, token=call.callback_token)

    async def enqueue(
        self,
        call: Call,
        account: TelephonyAccount,
        event: CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent,
    ) -> int:
        """Store the callback in the inbox (no commit here); 1 when new, 0 for a redelivery."""
        row = inbox_row(call=call, account_sid=account.account_sid, event=event, raw=dict(self.params))
        return await WebhookInboxRepository(self.session).enqueue([row])

    async def speak(self, tenant_id: uuid.UUID, body: str) -> str:
        """An answer that makes Twilio speak, counted against the tenant's text-to-speech limit."""
        return await limit_tts(self.limits, tenant_id, body)


CALLBACK_EVENTS: dict[str, Callable[[Mapping[str, str]], CallStatusEvent | AnsweredByEvent | RecordingEvent]] = {
    "status": status_event,
    "amd": amd_event,
    "recording": recording_event,
}


async def store_callback(hook: TwilioHook, *, kind: str, call_id: uuid.UUID, token: str | None) -> None:
    """A status, AMD or recording callback: verified, then stored in the inbox (the request's commit answers it)."""
    call, account = await hook.verified_call(call_id, token)
    if kind == "amd":
        # The answer TwiML waits for this result: it goes on the row at once, besides the inbox for the workflow.
        await CallRepository(hook.session).set_answered_by(
            call_id=call.id, answered_by=hook.params.get("AnsweredBy", "unknown")
        )
    await hook.enqueue(call, account, CALLBACK_EVENTS[kind](hook.params))


async def answer(hook: TwilioHook, *, call_id: uuid.UUID, token: str | None, wait: int) -> str:
    call, account = await hook.verified_call(call_id, token)
    return await hook.speak(call.tenant_id, twiml.answer_twiml(call, account, hook.urls(call), wait=wait))


async def voice_turn(hook: TwilioHook, *, workflows: CallWorkflowClient, call_id: uuid.UUID, token: str | None) -> str:
    """What the caller said goes to the call's workflow (update `caller_said`); its reply is the next TwiML."""
    call, account = await hook.verified_call(call_id, token)
    urls, workflow_id, speech = hook.urls(call), call.workflow_id, twiml.speech_of(account)
    caller_id = call.from_number if call.direction == "outbound" else call.to_number
    await count_tts(hook.limits, call.tenant_id)  # every reply speaks: refused before the workflow hears the caller
    await end_reads(hook.session)  # no pooled connection idles in a transaction while the workflow answers
    utterance = CallerUtterance(
        call_sid=hook.params.get("CallSid", ""),
        text=hook.params.get("SpeechResult", "")[:4000],
        confidence=_float(hook.params.get("Confidence")),
    )
    try:
        reply = await workflows.caller_said(workflow_id=workflow_id, call_id=call_id, utterance=utterance)
    except AppError as exc:
        log.warning("voice turn of call %s not answered: %s", call_id, exc.message)
        reply = twiml.FALLBACK
    return twiml.turn_twiml(reply, urls, caller_id=caller_id, speech=speech)


async def dial_finished(hook: TwilioHook, *, call_id: uuid.UUID, token: str | None) -> str:
    call, account = await hook.verified_call(call_id, token)
    event = dial_event(hook.params)
    await hook.enqueue(call, account, event)
    return await hook.speak(call.tenant_id, twiml.dial_finished_twiml(event.dial_status, twiml.speech_of(account)))


async def inbound(
    hook: TwilioHook, *, call_workflows: CallWorkflowClient, lead_workflows: LeadWorkflowClient, account_id: uuid.UUID
) -> str:
    """Someone calls a tenant's number: the call is written; its workflow starts and the lead's hears of it after
    the commit."""
    session = hook.session
    account = await hook.verified_account(account_id)
    call, lead, _ = await inbound_call(session=session, account=account, params=hook.params)
    tenant = await TenantRepository(session).get(account.tenant_id)
    assert tenant is not None
    data = CallWorkflowInput(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        lead_id=lead.id,
        call_id=call.id,
        attempt=1,
        direction="inbound",
        origin="inbound",
        lead_timezone=lead.timezone,
        provider_sid=call.provider_sid,
    )
    link = CallLink(workflow_id=call.workflow_id, call_id=call.id, direction="inbound")

    async def start() -> None:
        await call_workflows.start(data, workflow_id=link.workflow_id)
        await lead_workflows.signal_with_start(tenant=tenant, lead=lead, signal=RECORD_CALL_SIGNAL, arg=link)

    after_commit(session, start, failure="the inbound call was saved but its workflow could not be started")
    return await hook.speak(account.tenant_id, twiml.inbound_twiml(call, account, hook.urls(call)))


async def inbound_status(hook: TwilioHook, *, account_id: uuid.UUID) -> None:
    account = await hook.verified_account(account_id)
    call = await CallRepository(hook.session).get_by_sid(hook.params.get("CallSid", ""))
    if call is None or call.tenant_id != account.tenant_id:
        raise Forbidden("no inbound call of this account with that CallSid")
    await hook.enqueue(call, account, status_event(hook.params))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


async def inbound_call(
    *, session: AsyncSession, account: TelephonyAccount, params: Mapping[str, str]
) -> tuple[Call, Lead, bool]:
    """The row of an inbound call (the caller's lead found or created, source `call`); not committed here."""
    tenant = await TenantRepository(session).get(account.tenant_id)
    assert tenant is not None
    call_sid = params.get("CallSid", "")
    try:
        phone = normalize_phone(params.get("From", ""), tenant.default_region)
    except InvalidPhone:
        phone = params.get("From", "")[:20] or "unknown"
    lead, created = await lead_for_phone(session, tenant=tenant, phone=phone, name=None, source="call")
    attempt_key = f"in-{call_sid}"[:64]
    calls = CallRepository(session)
    call = await calls.insert_if_missing(
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant.id,
            "lead_id": lead.id,
            "attempt_key": attempt_key,
            "attempt": 1,
            "workflow_id": call_workflow_id(tenant.slug, str(lead.id), attempt_key),
            "direction": "inbound",
            "origin": "inbound",
            "to_number": params.get("To", "")[:20],
            "from_number": phone[:20],
            "callback_token": secrets.token_urlsafe(24),
            "provider_sid": call_sid or None,
            "status": "in-progress",
            "transcript": [],
        }
    )
    return call, lead, created

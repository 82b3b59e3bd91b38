"""Placing a call effectively once, whatever happens to the worker placing it.

The danger is the gap between Twilio accepting the call and its SID being stored: a worker dying there (or a lost
answer) leaves a ringing phone and an attempt that looks unplaced. So:
1. Under the row's lock: a stored SID means placed (return it). A `dial_started_at` without a SID means an earlier
   run sent the request and never stored the answer: wait (retry shortly) for the first status callback, whose URL
   carries this attempt's token and so names the SID (the dispatcher stores it); past the reconcile window, look the
   call up at Twilio (calls from our number to theirs created since the dial began) before dialling again.
   Otherwise mark `dial_started_at` and commit before the request goes out.
2. Send the request; store the SID from the answer unless a callback stored it first.
Refusals (bad credentials, a number Twilio will not call) are final; throttling and outages are retried.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.voice.accounts import VoiceClients
from channels.voice.urls import CallUrls
from core.config import Settings
from models import Call, TelephonyAccount
from providers.twilio.voice import (
    CallRequest,
    TwilioAccountCredentials,
    TwilioRejectedError,
    TwilioRetryableError,
    TwilioVoice,
)
from repositories.calls import CallRepository
from repositories.telephony_accounts import TelephonyAccountRepository

log = logging.getLogger(__name__)


class PlacementRefused(Exception):
    """Twilio refused the call, or the tenant has no telephony account: no retry helps."""


class PlacementInFlight(Exception):
    """An earlier run sent the request and its answer was never stored: wait for the callback (retry soon)."""

    def __init__(self, message: str, *, retry_after: timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PlacementThrottled(Exception):
    """Twilio throttled or failed the request before creating the call; try again."""


@dataclass(frozen=True, slots=True)
class Placement:
    provider_sid: str
    reconciled: bool


def _now() -> datetime:
    return datetime.now(tz=UTC)


class CallPlacer:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], clients: VoiceClients, settings: Settings
    ) -> None:
        self._sessions = session_factory
        self._clients = clients
        self._settings = settings

    def request(self, call: Call, account: TelephonyAccount) -> CallRequest:
        urls = CallUrls(base=self._settings.public_base_url, call_id=call.id, token=call.callback_token)
        click_to_call = call.agent_phone is not None
        return CallRequest(
            to=call.agent_phone or call.to_number,
            from_=call.from_number,
            answer_url=urls.answer(),
            status_callback=urls.status,
            # A click-to-call rings the agent's own phone: no machine detection there.
            amd_callback=None if click_to_call else urls.amd,
            ring_timeout_seconds=account.ring_timeout_seconds,
            record=account.recording_enabled,
            recording_callback=urls.recording if account.recording_enabled else None,
        )

    async def place(self, call_id: uuid.UUID) -> Placement:
        window = timedelta(seconds=self._settings.call_place_reconcile_window_seconds)
        async with self._sessions() as session:
            call = (
                await session.execute(select(Call).where(Call.id == call_id).with_for_update())
            ).scalar_one_or_none()
            if call is None:
                raise PlacementRefused(f"call {call_id} does not exist")
            account = await TelephonyAccountRepository(session).get_for_tenant(tenant_id=call.tenant_id)
            if account is None:
                raise PlacementRefused("the tenant has no telephony account")
            if call.provider_sid:
                return Placement(provider_sid=call.provider_sid, reconciled=True)
            voice, credentials = self._clients.for_account(account)
            request = self.request(call, account)
            if call.dial_started_at is not None:
                if _now() - call.dial_started_at < window:
                    raise PlacementInFlight(
                        "the call was sent to Twilio and its SID is not known yet: waiting for its first callback",
                        retry_after=timedelta(seconds=self._settings.call_place_reconcile_poll_seconds),
                    )
                found = await self._look_up(call, request, voice=voice, credentials=credentials)
                if found is not None:
                    await CallRepository(session).store_provider_sid(call_id=call.id, provider_sid=found)
                    await session.commit()
                    return Placement(provider_sid=found, reconciled=True)
            await CallRepository(session).mark_dial_started(call_id=call.id, at=_now())
            await session.commit()
        try:
            placed = await voice.place_call(credentials, request)
        except TwilioRejectedError as exc:
            raise PlacementRefused(str(exc)) from exc
        except TwilioRetryableError as exc:
            if exc.status is not None:
                # Twilio answered 429/5xx: it did not create the call, so the next run may dial at once.
                await self._forget_dial(call_id)
                raise PlacementThrottled(str(exc)) from exc
            raise  # no answer: the next run waits for a callback or looks the call up
        async with self._sessions() as session:
            stored = await CallRepository(session).store_provider_sid(call_id=call_id, provider_sid=placed.sid)
            await session.commit()
        return Placement(provider_sid=placed.sid, reconciled=not stored)

    async def _forget_dial(self, call_id: uuid.UUID) -> None:
        async with self._sessions() as session:
            call = await CallRepository(session).get(call_id)
            if call is not None and call.provider_sid is None:
                call.dial_started_at = None
            await session.commit()

    async def _look_up(
        self, call: Call, request: CallRequest, *, voice: TwilioVoice, credentials: TwilioAccountCredentials
    ) -> str | None:
        since = (call.dial_started_at or _now()) - timedelta(seconds=5)
        calls = await voice.list_to(credentials, to=request.to, from_=request.from_)
        matching = [c for c in calls if c.created_at is None or c.created_at >= since]
        if matching:
            log.info("call %s: placement found at Twilio as %s", call.id, matching[-1].sid)
            return str(matching[-1].sid)  # the earliest since the dial began
        return None

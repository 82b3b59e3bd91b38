"""Calls through Twilio's REST API with the official client: place, redirect, hang up, fetch, list.

One `TwilioVoice` per process holds the transport; each call names the tenant's account (SID and auth token), so
one process serves every tenant. Errors come out typed: `TwilioRetryableError` when trying again can help (429, 5xx,
no answer: the request may still have been carried out), `TwilioRejectedError` when it cannot (bad credentials, a
number Twilio refuses, a call that is already over).
"""

from dataclasses import dataclass
from datetime import datetime

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.api.v2010.account.call import CallInstance

from providers.twilio.transport import HttpxTwilioClient

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class TwilioError(Exception):
    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TwilioRetryableError(TwilioError):
    """Throttled, Twilio in trouble, or no answer: the same request may succeed later (and may have succeeded)."""


class TwilioRejectedError(TwilioError):
    """Twilio refused the request for a reason a retry does not change."""


@dataclass(frozen=True, slots=True)
class TwilioAccountCredentials:
    account_sid: str
    auth_token: str


@dataclass(frozen=True, slots=True)
class CallRequest:
    to: str
    from_: str
    answer_url: str  # Twilio fetches the call's TwiML here once it is answered
    status_callback: str
    amd_callback: str | None = None  # asynchronous answering-machine detection (DetectMessageEnd) when given
    ring_timeout_seconds: int = 30
    record: bool = False
    recording_callback: str | None = None


@dataclass(frozen=True, slots=True)
class CallState:
    sid: str
    status: str
    to: str
    from_: str
    answered_by: str | None
    duration_seconds: int | None
    start_time: datetime | None
    created_at: datetime | None


def _state(call: CallInstance) -> CallState:
    return CallState(
        sid=call.sid or "",
        status=str(call.status or ""),
        to=call.to or "",
        from_=call._from or "",
        answered_by=call.answered_by,
        duration_seconds=int(call.duration) if call.duration else None,
        start_time=call.start_time,
        created_at=call.date_created,
    )


def _typed(exc: TwilioRestException) -> TwilioError:
    message = f"Twilio answered {exc.status}: {exc.msg} (code {exc.code})"
    if exc.status == 429 or exc.status >= 500:
        return TwilioRetryableError(message, status=exc.status, code=exc.code)
    return TwilioRejectedError(message, status=exc.status, code=exc.code)


class TwilioVoice:
    def __init__(self, http: httpx.AsyncClient, *, base_url: str, timeout_seconds: float) -> None:
        self._transport = HttpxTwilioClient(http, base_url=base_url, timeout_seconds=timeout_seconds)

    def _client(self, account: TwilioAccountCredentials) -> Client:
        return Client(account.account_sid, account.auth_token, http_client=self._transport, environment={})

    async def place_call(self, account: TwilioAccountCredentials, request: CallRequest) -> CallState:
        extra: dict[str, object] = {}
        if request.amd_callback:
            extra = {
                "machine_detection": "DetectMessageEnd",
                "async_amd": "true",
                "async_amd_status_callback": request.amd_callback,
                "async_amd_status_callback_method": "POST",
            }
        if request.record:
            extra["record"] = True
            if request.recording_callback:
                extra["recording_status_callback"] = request.recording_callback
        try:
            call = await self._client(account).calls.create_async(
                to=request.to,
                from_=request.from_,
                url=request.answer_url,
                method="POST",
                status_callback=request.status_callback,
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=request.ring_timeout_seconds,
                **extra,  # type: ignore[arg-type]
            )
        except TwilioRestException as exc:
            raise _typed(exc) from exc
        except httpx.HTTPError as exc:
            raise TwilioRetryableError(
                f"no answer from Twilio ({type(exc).__name__}): the call may have been placed"
            ) from exc
        return _state(call)

    async def redirect(self, account: TwilioAccountCredentials, call_sid: str, twiml: str) -> CallState:
        """Replace what a live call is doing with this TwiML (a voicemail drop, a handoff)."""
        return await self._update(account, call_sid, twiml=twiml)

    async def hang_up(self, account: TwilioAccountCredentials, call_sid: str) -> CallState:
        return await self._update(account, call_sid, status="completed")

    async def _update(self, account: TwilioAccountCredentials, call_sid: str, **fields: str) -> CallState:
        try:
            call = await self._client(account).calls(call_sid).update_async(**fields)  # type: ignore[arg-type]
        except TwilioRestException as exc:
            raise _typed(exc) from exc
        except httpx.HTTPError as exc:
            raise TwilioRetryableError(f"no answer from Twilio ({type(exc).__name__})") from exc
        return _state(call)

    async def fetch(self, account: TwilioAccountCredentials, call_sid: str) -> CallState:
        try:
            call = await self._client(account).calls(call_sid).fetch_async()
        except TwilioRestException as exc:
            raise _typed(exc) from exc
        except httpx.HTTPError as exc:
            raise TwilioRetryableError(f"no answer from Twilio ({type(exc).__name__})") from exc
        return _state(call)

    async def list_to(self, account: TwilioAccountCredentials, *, to: str, from_: str) -> list[CallState]:
        """Calls from `from_` to `to`, newest first: how a placement whose answer was lost is found again."""
        try:
            calls = await self._client(account).calls.list_async(to=to, from_=from_, limit=20)
        except TwilioRestException as exc:
            raise _typed(exc) from exc
        except httpx.HTTPError as exc:
            raise TwilioRetryableError(f"no answer from Twilio ({type(exc).__name__})") from exc
        return [_state(call) for call in calls]

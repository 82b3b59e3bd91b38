"""Twilio's Calls REST resource: `/2010-04-01/Accounts/{AccountSid}/Calls.json` create and list, `.../Calls/{Sid}.json`
fetch and update. HTTP Basic auth with the account SID and its auth token, form-encoded requests, JSON answers and
Twilio's error shape (`code`, `message`, `more_info`, `status`).
"""

import asyncio
import base64
import binascii
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData

from sandbox.twilio_calls import CallPlayer
from sandbox.twilio_state import SandboxCall, TwilioState, e164, new_sid

router = APIRouter(prefix="/2010-04-01/Accounts/{account_sid}", tags=["twilio"])


class TwilioSandbox:
    def __init__(self, state: TwilioState, player: CallPlayer) -> None:
        self.state = state
        self.player = player

    def reset(self) -> None:
        self.player.cancel_all()
        self.state.reset()


def _twilio(request: Request) -> TwilioSandbox:
    twilio: TwilioSandbox = request.app.state.twilio
    return twilio


def error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _authenticated(request: Request, account_sid: str, state: TwilioState) -> bool:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = f"{account_sid}:{state.auth_token(account_sid)}"
    return hmac.compare_digest(f"{user}:{password}".encode(), expected.encode())


def _base_path(account_sid: str) -> str:
    return f"/2010-04-01/Accounts/{account_sid}"


def _unauthenticated() -> JSONResponse:
    return error(401, 20003, "Authenticate")


@router.post("/Calls.json")
async def create_call(account_sid: str, request: Request) -> JSONResponse:
    twilio = _twilio(request)
    if not _authenticated(request, account_sid, twilio.state):
        return _unauthenticated()
    form = await request.form()
    to, from_ = str(form.get("To") or ""), str(form.get("From") or "")
    if not to:
        return error(400, 21201, "No 'To' number is specified")
    if not from_:
        return error(400, 21213, "No 'From' number is specified")
    sources = [name for name in ("Url", "Twiml", "ApplicationSid") if form.get(name)]
    if len(sources) != 1:
        return error(400, 21205, "Exactly one of Url, Twiml or ApplicationSid is required")
    fault = twilio.state.take_fault(to, {"http_429", "http_500", "timeout", "slow_accept"})
    if fault is not None and fault.kind == "http_429":
        return error(429, 20429, "Too Many Requests")
    if fault is not None and fault.kind == "http_500":
        return error(500, 20500, "Internal Server Error")
    if fault is not None and fault.kind == "timeout":
        await asyncio.sleep(fault.delay_seconds)
        return error(504, 20504, "Gateway timeout")
    call = _new_call(account_sid, form)
    call.faults = twilio.state.take_callback_faults(to)
    twilio.state.calls[call.sid] = call
    twilio.player.start(call)
    if fault is not None and fault.kind == "slow_accept":
        await asyncio.sleep(fault.delay_seconds)  # placed and ringing: only the answer is late
    return JSONResponse(call.resource(_base_path(account_sid)), status_code=201)


def _new_call(account_sid: str, form: FormData) -> SandboxCall:
    machine_detection = str(form.get("MachineDetection") or "") or None
    return SandboxCall(
        sid=new_sid("CA"),
        account_sid=account_sid,
        to=e164(str(form["To"])),
        from_=e164(str(form["From"])),
        url=str(form.get("Url") or "") or None,
        twiml=str(form.get("Twiml") or "") or None,
        method=str(form.get("Method") or "POST"),
        status_callback=str(form.get("StatusCallback") or "") or None,
        status_callback_events=[str(v) for v in form.getlist("StatusCallbackEvent")],
        machine_detection=machine_detection,
        async_amd=str(form.get("AsyncAmd") or "").lower() == "true",
        async_amd_status_callback=str(form.get("AsyncAmdStatusCallback") or "") or None,
        record=str(form.get("Record") or "").lower() == "true",
        recording_status_callback=str(form.get("RecordingStatusCallback") or "") or None,
        request={key: form.getlist(key) if len(form.getlist(key)) > 1 else form.get(key) for key in form},
    )


@router.get("/Calls.json")
async def list_calls(account_sid: str, request: Request) -> JSONResponse:
    twilio = _twilio(request)
    if not _authenticated(request, account_sid, twilio.state):
        return _unauthenticated()
    query = request.query_params
    calls = [
        call.resource(_base_path(account_sid))
        for call in twilio.state.calls.values()
        if call.account_sid == account_sid
        and (not query.get("To") or call.to == e164(query["To"]))
        and (not query.get("From") or call.from_ == e164(query["From"]))
        and (not query.get("Status") or call.status == query["Status"])
    ]
    calls.reverse()  # newest first, as Twilio lists them
    uri = f"{_base_path(account_sid)}/Calls.json"
    page: dict[str, Any] = {
        "calls": calls,
        "end": max(0, len(calls) - 1),
        "first_page_uri": f"{uri}?PageSize=50&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"{uri}?PageSize=50&Page=0",
    }
    return JSONResponse(page)


def _found(request: Request, account_sid: str, call_sid: str) -> SandboxCall | JSONResponse:
    twilio = _twilio(request)
    if not _authenticated(request, account_sid, twilio.state):
        return _unauthenticated()
    call = twilio.state.calls.get(call_sid)
    if call is None or call.account_sid != account_sid:
        return error(
            404, 20404, f"The requested resource {_base_path(account_sid)}/Calls/{call_sid}.json was not found"
        )
    return call


@router.get("/Calls/{call_sid}.json")
async def fetch_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
    call = _found(request, account_sid, call_sid)
    if isinstance(call, JSONResponse):
        return call
    return JSONResponse(call.resource(_base_path(account_sid)))


@router.post("/Calls/{call_sid}.json")
async def update_call(account_sid: str, call_sid: str, request: Request) -> JSONResponse:
    call = _found(request, account_sid, call_sid)
    if isinstance(call, JSONResponse):
        return call
    player = _twilio(request).player
    form = await request.form()
    status, twiml, url = form.get("Status"), form.get("Twiml"), form.get("Url")
    if call.status in ("completed", "busy", "no-answer", "failed", "canceled"):
        return error(400, 21220, "Call is not in-progress. Cannot redirect.")
    if status in ("completed", "canceled"):
        player.end(call, str(status))
    elif twiml or url:
        player.redirect(call, twiml=str(twiml) if twiml else None, url=str(url) if url else None)
    else:
        return error(400, 21218, "Status, Twiml or Url is required")
    return JSONResponse(call.resource(_base_path(account_sid)))

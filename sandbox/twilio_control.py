"""Control endpoints under `/_sandbox/twilio`: personas, accounts, faults, inbound calls, and what calls did."""

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from sandbox.twilio_api import TwilioSandbox
from sandbox.twilio_state import CallFault, Persona, SandboxCall, TwilioAccount, e164, new_sid

CallbackEvent = Literal["initiated", "ringing", "answered", "completed"]
CALLBACK_EVENTS: tuple[CallbackEvent, ...] = ("initiated", "ringing", "answered", "completed")

router = APIRouter(prefix="/_sandbox/twilio", tags=["sandbox control"])


def _twilio(request: Request) -> TwilioSandbox:
    twilio: TwilioSandbox = request.app.state.twilio
    return twilio


class InboundCall(BaseModel):
    """A person calls one of the tenant's numbers: Twilio fetches the number's voice URL and plays the answer."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", min_length=3)
    to: str = Field(min_length=3)
    voice_url: str
    status_callback: str | None = None
    account_sid: str = Field(min_length=2)
    status_callback_events: list[CallbackEvent] = Field(default_factory=lambda: list(CALLBACK_EVENTS))


def _call_view(call: SandboxCall) -> dict[str, Any]:
    view = call.model_dump(mode="json", exclude={"faults", "next_sequence_number"})
    view["faults"] = [f.kind for f in call.faults]
    view["duration"] = call.duration
    return view


@router.post("/personas", status_code=201)
async def set_persona(persona: Persona, request: Request) -> Persona:
    persona = persona.model_copy(update={"number": e164(persona.number)})
    _twilio(request).state.personas[persona.number] = persona
    return persona


@router.post("/accounts", status_code=201)
async def register_account(account: TwilioAccount, request: Request) -> TwilioAccount:
    _twilio(request).state.accounts[account.account_sid] = account
    return account


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": [f.model_dump(mode="json") for f in _twilio(request).state.faults]}


@router.post("/faults", status_code=201)
async def add_fault(fault: CallFault, request: Request) -> CallFault:
    if fault.kind == "drop_callback" and fault.event is None:
        raise HTTPException(
            status_code=422, detail="drop_callback needs event: initiated|ringing|answered|completed|amd"
        )
    _twilio(request).state.faults.append(fault)
    return fault


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> None:
    _twilio(request).state.faults.clear()


@router.get("/calls")
async def list_calls(request: Request, to: str | None = None, from_: str | None = None) -> dict[str, Any]:
    calls = [
        call
        for call in _twilio(request).state.calls.values()
        if (to is None or call.to == e164(to)) and (from_ is None or call.from_ == e164(from_))
    ]
    return {"calls": [_call_view(call) for call in calls]}


@router.get("/calls/{call_sid}")
async def get_call(call_sid: str, request: Request) -> dict[str, Any]:
    call = _twilio(request).state.calls.get(call_sid)
    if call is None:
        raise HTTPException(status_code=404, detail=f"no sandbox call {call_sid!r}")
    return _call_view(call)


@router.get("/callbacks")
async def list_callbacks(request: Request, call_sid: str | None = None) -> dict[str, Any]:
    deliveries = [d for d in _twilio(request).state.callbacks if call_sid is None or d.call_sid == call_sid]
    return {"callbacks": [d.model_dump(mode="json") for d in deliveries]}


@router.post("/inbound", status_code=201)
async def place_inbound_call(body: InboundCall, request: Request) -> dict[str, Any]:
    twilio = _twilio(request)
    call = SandboxCall(
        sid=new_sid("CA"),
        account_sid=body.account_sid,
        to=e164(body.to),
        from_=e164(body.from_),
        direction="inbound",
        url=body.voice_url,
        status_callback=body.status_callback,
        status_callback_events=list(body.status_callback_events),
    )
    call.faults = twilio.state.take_callback_faults(call.from_)
    twilio.state.calls[call.sid] = call
    twilio.player.start(call)
    return _call_view(call)


@router.post("/reset", status_code=204)
async def reset(request: Request) -> None:
    _twilio(request).reset()

"""The sandbox speaks Twilio Programmable Voice: the official client places calls on it, and it plays them like
Twilio (fetches TwiML, follows Gather/Say/Dial/Hangup, posts signed status and AMD callbacks), per persona."""

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from twilio.twiml.voice_response import Gather, VoiceResponse

from core.config import Settings
from providers.twilio.signatures import SIGNATURE_HEADER, verify_signature
from providers.twilio.voice import (
    CallRequest,
    CallState,
    TwilioAccountCredentials,
    TwilioRejectedError,
    TwilioRetryableError,
    TwilioVoice,
)
from tests.fixtures.sandbox import ServerThread, load_fixture, unique_phone

AUTH_TOKEN = "sandbox-test-auth-token"
GEO_OR_OPTIONAL = ("City", "State", "Zip", "Country", "StirStatus")


@dataclass
class Received:
    path: str
    params: dict[str, str]
    verified: bool


@dataclass
class VoiceApp:
    """A small application Twilio calls: answers with a Gather, replies to each utterance, records callbacks."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)  # CallSid -> TwiML answered on the next gather

    def at(self, path: str, call_sid: str) -> list[Received]:
        return [r for r in self.received if r.path == path and r.params.get("CallSid") == call_sid]

    def statuses(self, call_sid: str) -> list[str]:
        return [r.params["CallStatus"] for r in self.at("/status", call_sid)]


def _voice_app(app_state: VoiceApp) -> FastAPI:
    app = FastAPI()

    @app.post("/{name}")
    async def callback(name: str, request: Request) -> Response:
        params = {key: str(value) for key, value in (await request.form()).items()}
        url = str(request.url)
        verified = verify_signature(AUTH_TOKEN, url, params, request.headers.get(SIGNATURE_HEADER))
        app_state.received.append(Received(path=f"/{name}", params=params, verified=verified))
        if not verified:
            return Response(status_code=403)
        if name == "answer":
            twiml = VoiceResponse()
            gather = Gather(input="speech", action=f"{app_state.url}/gather", method="POST")
            gather.say("Hello, this is Acme Realty. How can I help?")
            twiml.append(gather)
            twiml.say("Goodbye.")
            return Response(str(twiml), media_type="application/xml")
        if name == "gather":
            said = params.get("SpeechResult", "")
            twiml = VoiceResponse()
            if "bye" in said.lower():
                twiml.say("Thank you, goodbye.")
                twiml.hangup()
            else:
                gather = Gather(input="speech", action=f"{app_state.url}/gather")
                gather.say(f"You said: {said}")
                twiml.append(gather)
            return Response(str(twiml), media_type="application/xml")
        return Response(status_code=204)

    return app


@pytest.fixture(scope="module")
def voice_app() -> Iterator[VoiceApp]:
    state = VoiceApp()
    with ServerThread(lambda _url: _voice_app(state)) as server:
        state.url = server.url
        yield state


@pytest.fixture(scope="module")
async def account(sandbox_control: httpx.AsyncClient) -> TwilioAccountCredentials:
    sid = "AC" + secrets.token_hex(16)
    answer = await sandbox_control.post(
        "/_sandbox/twilio/accounts", json={"account_sid": sid, "auth_token": AUTH_TOKEN}
    )
    assert answer.status_code == 201
    return TwilioAccountCredentials(account_sid=sid, auth_token=AUTH_TOKEN)


@pytest.fixture(scope="module")
def voice(sandbox_url: str, provider_http: httpx.AsyncClient) -> TwilioVoice:
    return TwilioVoice(provider_http, base_url=sandbox_url, timeout_seconds=Settings().twilio_http_timeout_seconds)


def _request(app: VoiceApp, to: str, *, amd: bool = False) -> CallRequest:
    return CallRequest(
        to=to,
        from_="+14155550100",
        answer_url=f"{app.url}/answer",
        status_callback=f"{app.url}/status",
        amd_callback=f"{app.url}/amd" if amd else None,
    )


async def _persona(control: httpx.AsyncClient, number: str, **fields: Any) -> None:
    answer = await control.post("/_sandbox/twilio/personas", json={"number": number, **fields})
    assert answer.status_code == 201, answer.text


async def _call_persona(
    control: httpx.AsyncClient,
    voice: TwilioVoice,
    account: TwilioAccountCredentials,
    app: VoiceApp,
    *,
    amd: bool = False,
    **persona: Any,
) -> CallState:
    """A new number that behaves as `persona`, called by the app."""
    number = unique_phone()
    await _persona(control, number, **persona)
    return await voice.place_call(account, _request(app, number, amd=amd))


async def _call_voicemail(
    control: httpx.AsyncClient,
    voice: TwilioVoice,
    account: TwilioAccountCredentials,
    app: VoiceApp,
    *,
    silence_seconds: float,
) -> CallState:
    """An answering machine (detected after 0.05 s) called by the app with machine detection on."""
    return await _call_persona(
        control, voice, account, app, amd=True, behaviour="voicemail", amd_seconds=0.05, silence_seconds=silence_seconds
    )


async def _ended(control: httpx.AsyncClient, sid: str, within_seconds: float = 10.0) -> dict[str, Any]:
    for _ in range(int(within_seconds / 0.02)):
        call: dict[str, Any] = (await control.get(f"/_sandbox/twilio/calls/{sid}")).json()
        callbacks = (await control.get("/_sandbox/twilio/callbacks", params={"call_sid": sid})).json()["callbacks"]
        if call["end_time"] and any(c["event"] == "completed" for c in callbacks):
            return call
        await asyncio.sleep(0.02)
    raise AssertionError(f"sandbox call {sid} did not end within {within_seconds} s")


async def test_a_person_answers_and_talks_through_gathers(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    placed = await _call_persona(
        sandbox_control, voice, account, voice_app, behaviour="human", utterances=["I'd like a viewing", "Okay, bye"]
    )
    call = await _ended(sandbox_control, placed.sid)

    assert placed.status == "queued"
    assert call["status"] == "completed"
    said = [(s["verb"], s["text"]) for s in call["steps"] if s["verb"] in ("gather", "caller_said", "say", "hangup")]
    assert said == [
        ("gather", "Hello, this is Acme Realty. How can I help?"),
        ("caller_said", "I'd like a viewing"),
        ("gather", "You said: I'd like a viewing"),
        ("caller_said", "Okay, bye"),
        ("say", "Thank you, goodbye."),
        ("hangup", None),
    ]
    assert [r.params["SpeechResult"] for r in voice_app.at("/gather", placed.sid)] == [
        "I'd like a viewing",
        "Okay, bye",
    ]
    assert voice_app.statuses(placed.sid) == ["initiated", "ringing", "in-progress", "completed"]
    statuses = voice_app.at("/status", placed.sid)
    assert [r.params["SequenceNumber"] for r in statuses] == ["0", "1", "2", "3"]
    assert all(r.verified for r in voice_app.received if r.params.get("CallSid") == placed.sid)
    fetched = await voice.fetch(account, placed.sid)
    assert fetched.status == "completed"


async def test_callbacks_carry_the_fields_of_twilios_own_samples(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    placed = await _call_voicemail(sandbox_control, voice, account, voice_app, silence_seconds=0.3)
    await _ended(sandbox_control, placed.sid)

    def keys(fixture: str) -> set[str]:
        return {k for k in load_fixture(fixture) if not k.endswith(GEO_OR_OPTIONAL)}

    by_status = {r.params["CallStatus"]: set(r.params) for r in voice_app.at("/status", placed.sid)}
    assert keys("twilio/status_callback_initiated.json") <= by_status["initiated"]
    assert keys("twilio/status_callback_ringing.json") <= by_status["ringing"]
    assert keys("twilio/status_callback_answered.json") <= by_status["in-progress"]
    assert keys("twilio/status_callback_completed.json") <= by_status["completed"]
    amd = voice_app.at("/amd", placed.sid)
    assert len(amd) == 1 and set(amd[0].params) == set(load_fixture("twilio/amd_async_callback.json"))
    assert amd[0].params["AnsweredBy"] == "machine_end_beep"
    gather_keys = {k for k in load_fixture("twilio/gather_speech_action.json") if not k.endswith(GEO_OR_OPTIONAL)}
    assert gather_keys - {"SpeechResult", "Confidence"} <= set(voice_app.at("/answer", placed.sid)[0].params)


async def test_a_voicemail_gets_the_message_the_app_redirects_to(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    placed = await _call_voicemail(sandbox_control, voice, account, voice_app, silence_seconds=5.0)
    for _ in range(250):
        if voice_app.at("/amd", placed.sid):
            break
        await asyncio.sleep(0.02)
    message = VoiceResponse()
    message.say("Sorry we missed you, we will call back.")
    message.hangup()
    await voice.redirect(account, placed.sid, str(message))
    call = await _ended(sandbox_control, placed.sid)

    assert call["answered_by"] == "machine_end_beep"
    assert ("say", "Sorry we missed you, we will call back.") in [(s["verb"], s["text"]) for s in call["steps"]]
    assert voice_app.statuses(placed.sid)[-1] == "completed"


@pytest.mark.parametrize(("behaviour", "final"), [("busy", "busy"), ("no_answer", "no-answer"), ("fails", "failed")])
async def test_unanswered_calls_end_with_their_status(
    sandbox_control: httpx.AsyncClient,
    voice: TwilioVoice,
    account: TwilioAccountCredentials,
    voice_app: VoiceApp,
    behaviour: str,
    final: str,
) -> None:
    placed = await _call_persona(sandbox_control, voice, account, voice_app, behaviour=behaviour)
    call = await _ended(sandbox_control, placed.sid)

    assert call["status"] == final
    assert voice_app.statuses(placed.sid) == ["initiated", "ringing", final]
    assert not voice_app.at("/answer", placed.sid)


async def test_a_person_hanging_up_mid_call_completes_it(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    placed = await _call_persona(
        sandbox_control,
        voice,
        account,
        voice_app,
        behaviour="hangs_up",
        utterances=["Who is this?", "no"],
        hang_up_after=1,
    )
    call = await _ended(sandbox_control, placed.sid)

    assert call["status"] == "completed"
    assert [s["text"] for s in call["steps"] if s["verb"] == "caller_said"] == ["Who is this?"]
    assert call["steps"][-1]["text"] == "the callee hung up"


async def test_rest_faults_are_typed_for_the_caller(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    number = unique_phone()
    for kind in ("http_429", "http_500"):
        await sandbox_control.post("/_sandbox/twilio/faults", json={"kind": kind, "to": number})
        with pytest.raises(TwilioRetryableError):
            await voice.place_call(account, _request(voice_app, number))
    wrong = TwilioAccountCredentials(account_sid=account.account_sid, auth_token="not-the-token")
    with pytest.raises(TwilioRejectedError) as refused:
        await voice.place_call(wrong, _request(voice_app, number))
    assert refused.value.status == 401
    calls = (await sandbox_control.get("/_sandbox/twilio/calls", params={"to": number})).json()["calls"]
    assert calls == []


async def test_callback_faults_duplicate_reorder_drop_and_forge(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    duplicated, reordered, dropped, forged = (unique_phone() for _ in range(4))
    for number, fault in (
        (duplicated, {"kind": "duplicate_callbacks"}),
        (reordered, {"kind": "out_of_order_callbacks"}),
        (dropped, {"kind": "drop_callback", "event": "ringing"}),
        (forged, {"kind": "bad_signature"}),
    ):
        await _persona(sandbox_control, number, behaviour="no_answer")
        assert (await sandbox_control.post("/_sandbox/twilio/faults", json={**fault, "to": number})).status_code == 201
    sids = {}
    for number in (duplicated, reordered, dropped, forged):
        sids[number] = (await voice.place_call(account, _request(voice_app, number))).sid
    for sid in sids.values():
        await _ended(sandbox_control, sid)

    assert voice_app.statuses(sids[duplicated]) == [
        "initiated",
        "initiated",
        "ringing",
        "ringing",
        "no-answer",
        "no-answer",
    ]
    reordered_seen = voice_app.at("/status", sids[reordered])
    assert [(r.params["CallStatus"], r.params["SequenceNumber"]) for r in reordered_seen] == [
        ("ringing", "1"),
        ("initiated", "0"),
        ("no-answer", "2"),
    ]
    assert voice_app.statuses(sids[dropped]) == ["initiated", "no-answer"]
    assert [r.verified for r in voice_app.at("/status", sids[forged])] == [False, False, False]


async def test_calls_are_listed_newest_first_by_number(
    sandbox_control: httpx.AsyncClient, voice: TwilioVoice, account: TwilioAccountCredentials, voice_app: VoiceApp
) -> None:
    number = unique_phone()
    await _persona(sandbox_control, number, behaviour="no_answer")
    first = await voice.place_call(account, _request(voice_app, number))
    second = await voice.place_call(account, _request(voice_app, number))
    listed = await voice.list_to(account, to=number, from_="+14155550100")
    assert [c.sid for c in listed] == [second.sid, first.sid]

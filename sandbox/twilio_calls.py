"""Plays each sandbox call the way Twilio does: ring, answer (or not), fetch TwiML, follow it, post callbacks.

Every request to the application is a form POST signed like Twilio signs it (`X-Twilio-Signature`, computed by the
`twilio` package's own `RequestValidator` with the account's auth token). Status callbacks go to `StatusCallback`
for the events asked for in `StatusCallbackEvent` (the terminal one always), numbered by `SequenceNumber`; the
async AMD result goes to `AsyncAmdStatusCallback`; a call created with `Record=true` that was answered posts its
recording (`RecordingSid`, `RecordingUrl`, `RecordingDuration`, ...) to `RecordingStatusCallback` after it ended,
as Twilio does once the recording is processed. A Calls update (new `Twiml`/`Url`, or `Status=completed`)
interrupts whatever the call is doing, as on Twilio.

TwiML followed: `<Say>`, `<Pause>`, `<Gather>` (speech: the persona's next utterance is posted to `action` as
`SpeechResult`; with nothing to say the call goes on with the next verb), `<Dial>` (number or `<Number>`; posts
`DialCallStatus` to `action` when given), `<Redirect>`, `<Hangup>`. The end of the document hangs up.
"""

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Coroutine
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from sandbox.twilio_state import (
    ANSWERED_BY,
    SIP_CODES,
    CallbackDelivery,
    CallStep,
    Persona,
    SandboxCall,
    TwilioState,
    new_sid,
    now,
    rfc2822,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


class Hangup(Exception):
    """The call is over: the callee hung up, the TwiML said so, or the application completed it."""


class CallPlayer:
    def __init__(self, state: TwilioState, http: httpx.AsyncClient) -> None:
        self.state = state
        self.http = http
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._interrupts: dict[str, asyncio.Event] = {}
        self._next_program: dict[str, str | None] = {}  # call sid -> TwiML (or "url:<url>") to switch to
        self._held: dict[str, tuple[str, str, dict[str, str]]] = {}  # out_of_order: callback waiting for the next

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._interrupts.clear()
        self._next_program.clear()
        self._held.clear()

    def start(self, call: SandboxCall) -> None:
        self._interrupts[call.sid] = asyncio.Event()
        self._spawn(call.sid, self._play(call))

    def _spawn(self, sid: str, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks[sid] = task
        task.add_done_callback(lambda _t: self._tasks.pop(sid, None))

    # --- what the REST API's update does ------------------------------------------------------------------------

    def redirect(self, call: SandboxCall, *, twiml: str | None = None, url: str | None = None) -> None:
        self._next_program[call.sid] = twiml if twiml is not None else f"url:{url}"
        self._interrupt(call)

    def end(self, call: SandboxCall, status: str) -> None:
        """Status=completed (in progress) or canceled (queued/ringing)."""
        if call.status in ("queued", "ringing", "initiated"):
            call.status = "canceled"
        self._next_program[call.sid] = None
        self._interrupt(call)

    def _interrupt(self, call: SandboxCall) -> None:
        event = self._interrupts.get(call.sid)
        if event is not None:
            event.set()

    async def _wait(self, call: SandboxCall, seconds: float) -> bool:
        """Sleep; True when an update interrupted it."""
        event = self._interrupts[call.sid]
        if event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    # --- the call's life ----------------------------------------------------------------------------------------

    async def _play(self, call: SandboxCall) -> None:
        persona = self.state.persona(call.to if call.direction == "outbound-api" else call.from_)
        try:
            await self._ring_and_answer(call, persona)
            await self._run_programs(call, persona)
            self._finish(call, "completed")
        except Hangup:
            self._finish(call, call.status if call.status in SIP_CODES else "completed")
        except Exception:
            log.exception("sandbox call %s broke", call.sid)
            self._finish(call, "failed")
        await self._status_callback(call, "completed")
        await self._flush_held(call)
        await self._recording_callback(call)

    async def _ring_and_answer(self, call: SandboxCall, persona: Persona) -> None:
        call.status = "initiated"
        await self._status_callback(call, "initiated")
        if await self._wait(call, persona.ring_seconds):
            raise Hangup
        call.status = "ringing"
        await self._status_callback(call, "ringing")
        if await self._wait(call, persona.ring_seconds):
            raise Hangup
        if persona.behaviour in ("busy", "no_answer", "fails"):
            call.status = {"busy": "busy", "no_answer": "no-answer", "fails": "failed"}[persona.behaviour]
            raise Hangup
        call.status = "in-progress"
        call.start_time = now()
        await self._status_callback(call, "answered")
        if call.machine_detection:
            answered_by = ANSWERED_BY.get(persona.behaviour, "unknown")
            if call.async_amd:
                self._spawn(f"{call.sid}:amd", self._amd_callback(call, persona, answered_by))
            else:
                call.answered_by = answered_by

    async def _recording_callback(self, call: SandboxCall) -> None:
        if not call.record or not call.recording_status_callback or call.start_time is None:
            return  # nothing recorded: not asked, or never answered
        sid = new_sid("RE")
        params = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "RecordingSid": sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{call.account_sid}/Recordings/{sid}",
            "RecordingStatus": "completed",
            "RecordingDuration": str(call.duration or 0),
            "RecordingChannels": "1",
            "RecordingStartTime": rfc2822(call.start_time) or "",
            "RecordingSource": "OutboundAPI" if call.direction == "outbound-api" else "StartCallRecordingAPI",
            "RecordingTrack": "both",
        }
        if call.has_fault("drop_callback", "recording"):
            self._log(call, "recording", call.recording_status_callback, params, dropped=True)
            return
        await self._post(call, "recording", call.recording_status_callback, params)
        if call.has_fault("duplicate_callbacks"):
            await self._post(call, "recording", call.recording_status_callback, params)

    async def _amd_callback(self, call: SandboxCall, persona: Persona, answered_by: str) -> None:
        await asyncio.sleep(persona.amd_seconds)
        if call.status != "in-progress" or not call.async_amd_status_callback:
            return
        call.answered_by = answered_by
        params = {
            "AccountSid": call.account_sid,
            "AnsweredBy": answered_by,
            "CallSid": call.sid,
            "MachineDetectionDuration": str(int(persona.amd_seconds * 1000)),
        }
        if call.has_fault("drop_callback", "amd"):
            self._log(call, "amd", call.async_amd_status_callback, params, dropped=True)
            return
        await self._post(call, "amd", call.async_amd_status_callback, params)

    async def _run_programs(self, call: SandboxCall, persona: Persona) -> None:
        program = call.twiml if call.twiml is not None else await self._fetch(call, "answer_url", call.url or "", {})
        while program is not None:
            program = await self._run(call, persona, program)

    async def _run(self, call: SandboxCall, persona: Persona, twiml: str) -> str | None:
        """Follow one TwiML document; the next document to follow, or None when the call hangs up."""
        if twiml.startswith("url:"):
            return await self._fetch(call, "redirect", twiml[4:], {})
        try:
            root = ET.fromstring(twiml)  # noqa: S314 - the application under test's own TwiML
        except ET.ParseError:
            call.steps.append(CallStep(verb="hangup", text="unparseable TwiML"))
            call.status = "failed"
            raise Hangup from None
        for verb in root:
            interrupted, following = await self._verb(call, persona, verb)
            if interrupted:
                return self._take_interruption(call)
            if following is not None:
                return following
        return None

    def _take_interruption(self, call: SandboxCall) -> str | None:
        self._interrupts[call.sid].clear()
        program = self._next_program.pop(call.sid, None)
        if program is None:
            raise Hangup
        return program

    async def _verb(self, call: SandboxCall, persona: Persona, verb: ET.Element) -> tuple[bool, str | None]:
        """(interrupted by an update, the next document to follow instead of the rest of this one)."""
        tag = verb.tag
        if tag == "Say":
            call.steps.append(
                CallStep(
                    verb="say", text=(verb.text or "").strip(), voice=verb.get("voice"), language=verb.get("language")
                )
            )
            return await self._wait(call, persona.say_seconds), None
        if tag == "Pause":
            call.steps.append(CallStep(verb="pause", text=verb.get("length", "1")))
            return await self._wait(call, min(float(verb.get("length", "1")), persona.silence_seconds)), None
        if tag == "Hangup":
            call.steps.append(CallStep(verb="hangup"))
            raise Hangup
        if tag == "Redirect":
            call.steps.append(CallStep(verb="redirect", text=(verb.text or "").strip()))
            return False, await self._fetch(call, "redirect", (verb.text or "").strip(), {})
        if tag == "Gather":
            return await self._gather(call, persona, verb)
        if tag == "Dial":
            return await self._dial(call, persona, verb)
        return False, None  # verbs the sandbox does not play are skipped

    async def _gather(self, call: SandboxCall, persona: Persona, gather: ET.Element) -> tuple[bool, str | None]:
        for child in gather:
            if child.tag == "Say":
                call.steps.append(
                    CallStep(
                        verb="gather",
                        text=(child.text or "").strip(),
                        voice=child.get("voice"),
                        language=child.get("language") or gather.get("language"),
                    )
                )
                if await self._wait(call, persona.say_seconds):
                    return True, None
        said = sum(1 for step in call.steps if step.verb == "caller_said")
        if persona.behaviour == "hangs_up" and said >= persona.hang_up_after:
            call.steps.append(CallStep(verb="hangup", text="the callee hung up"))
            raise Hangup
        speaks = persona.behaviour in ("human", "hangs_up") and said < len(persona.utterances)
        if not speaks:
            call.steps.append(CallStep(verb="silence"))
            if await self._wait(call, persona.silence_seconds):
                return True, None
            if gather.get("actionOnEmptyResult") == "true" and gather.get("action"):
                return False, await self._fetch(call, "gather", gather.get("action", ""), {})
            return False, None
        utterance = persona.utterances[said]
        if await self._wait(call, persona.talk_seconds):
            return True, None
        call.steps.append(CallStep(verb="caller_said", text=utterance))
        action = gather.get("action")
        if not action:
            return False, await self._fetch(call, "gather", call.url or "", {"SpeechResult": utterance})
        extra = {"SpeechResult": utterance, "Confidence": "0.9162338"}
        return False, await self._fetch(call, "gather", action, extra)

    async def _dial(self, call: SandboxCall, persona: Persona, dial: ET.Element) -> tuple[bool, str | None]:
        number = next((n.text for n in dial if n.tag == "Number"), None) or (dial.text or "").strip()
        call.steps.append(CallStep(verb="dial", text=(number or "").strip()))
        dialled = self.state.persona(number or "")
        if await self._wait(call, dialled.dial_seconds if dialled.behaviour == "human" else persona.ring_seconds):
            return True, None
        action = dial.get("action")
        if not action:
            return False, None
        status = {"busy": "busy", "no_answer": "no-answer", "fails": "failed"}.get(dialled.behaviour, "completed")
        return False, await self._fetch(call, "dial_action", action, {"DialCallStatus": status})

    def _finish(self, call: SandboxCall, status: str) -> None:
        call.status = status
        call.end_time = now()

    # --- requests to the application ----------------------------------------------------------------------------

    def _params(self, call: SandboxCall) -> dict[str, str]:
        """The standard request parameters Twilio sends with every voice request."""
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
        }
        if call.answered_by and not call.async_amd:
            params["AnsweredBy"] = call.answered_by
        return params

    async def _fetch(self, call: SandboxCall, event: str, url: str, extra: dict[str, str]) -> str | None:
        """POST to a TwiML URL; the document it answered, or None (the call then ends, as Twilio's fallback would)."""
        delivery = await self._post(call, event, url, {**self._params(call), **extra})
        if delivery.status_code != 200 or delivery.body is None:
            call.steps.append(CallStep(verb="hangup", text=f"{event} answered {delivery.status_code}"))
            return None
        return delivery.body

    async def _status_callback(self, call: SandboxCall, event: str) -> None:
        if not call.status_callback:
            return
        if event != "completed" and event not in call.status_callback_events:
            return
        params = {
            **self._params(call),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(call.next_sequence_number),
            "Timestamp": rfc2822(now()) or "",
        }
        call.next_sequence_number += 1
        if event == "completed":
            params["CallDuration"] = str(call.duration or 0)
            params["SipResponseCode"] = SIP_CODES.get(call.status, "200")
            if call.status == "completed":
                params["Duration"] = str(max(1, -(-(call.duration or 0) // 60)))
        if call.has_fault("drop_callback", event):
            self._log(call, event, call.status_callback, params, dropped=True)
            return
        if call.has_fault("out_of_order_callbacks") and event != "completed":
            held = self._held.pop(call.sid, None)
            if held is None:
                self._held[call.sid] = (event, call.status_callback, params)
                return
            await self._post(call, event, call.status_callback, params)  # the newer one first, then the older
            await self._post(call, *held)
            return
        await self._post(call, event, call.status_callback, params)
        await self._flush_held(call)
        if call.has_fault("duplicate_callbacks"):
            await self._post(call, event, call.status_callback, params)

    async def _flush_held(self, call: SandboxCall) -> None:
        held = self._held.pop(call.sid, None)
        if held is not None:
            await self._post(call, *held)

    def _log(self, call: SandboxCall, event: str, url: str, params: dict[str, str], **fields: Any) -> CallbackDelivery:
        delivery = CallbackDelivery(call_sid=call.sid, event=event, url=url, params=params, **fields)
        self.state.callbacks.append(delivery)
        return delivery

    async def _post(self, call: SandboxCall, event: str, url: str, params: dict[str, str]) -> CallbackDelivery:
        bad = call.has_fault("bad_signature")
        token = self.state.auth_token(call.account_sid) + ("-wrong" if bad else "")
        signature = RequestValidator(token).compute_signature(url, params)
        delivery = self._log(call, event, url, params, signature="invalid" if bad else "valid")
        started = time.perf_counter()
        try:
            response = await self.http.post(url, data=params, headers={SIGNATURE_HEADER: signature})
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            return delivery
        delivery.elapsed_ms = (time.perf_counter() - started) * 1000
        delivery.status_code = response.status_code
        delivery.body = response.text
        return delivery

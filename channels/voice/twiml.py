"""What a call does at each step, as TwiML built with the `twilio` package's `VoiceResponse`.

- Answer of an outbound call to a lead: while the async AMD result is not in, hold (`<Pause>` + `<Redirect>` back
  here, at most `AMD_WAITS` times, then treat the callee as a person). A machine gets the tenant's voicemail drop
  (or a hang-up); a person gets the consent prompt when recording, then the configured answer: an agent's phone
  (`<Dial>`), the voice agent (`<Gather input="speech">` with the opening), or a scripted message.
- Click-to-call: the call rang the agent; the answer bridges the lead (`<Dial>` with the caller id).
- A voice turn: the reply, then listen again, hand off (`<Dial>`), or hang up.
- Inbound: by the tenant's routing (agent, voice agent, voicemail).

Every `<Say>` speaks with the tenant's voice preset (`voice_script.voice` / `.language`, `Speech`), and `<Gather>`
recognises speech in its language.
"""

from dataclasses import dataclass

from twilio.twiml import TwiML
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from channels.voice.urls import CallUrls
from domain.calls import MACHINE_ANSWERS, VoiceScript
from models import Call, TelephonyAccount
from workflows.call_types import VoiceReply

AMD_WAITS = 8
# What a turn answers when the workflow could not (the call ended meanwhile, Temporal did not answer in time).
FALLBACK = VoiceReply(say="Sorry, we have to end this call now. We will call you back.", action="hang_up")
MISSED_CALL_MESSAGE = "Sorry, nobody can take your call right now. We will call you back soon."
INBOUND_VOICEMAIL_MESSAGE = "Thank you for calling. Nobody can take your call right now; we will call you back."


@dataclass(frozen=True, slots=True)
class Speech:
    """The tenant's text-to-speech preset; None fields leave Twilio's defaults."""

    voice: str | None = None
    language: str | None = None

    def say(self, parent: TwiML, text: str) -> None:
        parent.say(text, voice=self.voice, language=self.language)


DEFAULT_SPEECH = Speech()


def speech_of(account: TelephonyAccount) -> Speech:
    script = _script(account)
    return Speech(voice=script.voice, language=script.language)


def _listen(twiml: VoiceResponse, urls: CallUrls, say: str, speech: Speech) -> None:
    gather = Gather(input="speech", action=urls.turn, method="POST", speech_timeout="auto", language=speech.language)
    speech.say(gather, say)
    twiml.append(gather)


def _dial(twiml: VoiceResponse, urls: CallUrls, number: str, caller_id: str | None) -> None:
    dial = Dial(action=urls.dial, method="POST", caller_id=caller_id, timeout=20)
    dial.number(number)
    twiml.append(dial)


def _script(account: TelephonyAccount) -> VoiceScript:
    return VoiceScript.model_validate(account.voice_script or {})


def answer_twiml(call: Call, account: TelephonyAccount, urls: CallUrls, *, wait: int) -> str:
    twiml, speech = VoiceResponse(), speech_of(account)
    if call.direction == "outbound" and call.agent_phone:
        speech.say(twiml, "Connecting you to your lead.")
        _dial(twiml, urls, call.to_number, call.from_number)
        return str(twiml)
    if call.answered_by is None and wait < AMD_WAITS:
        twiml.pause(length=1)
        twiml.redirect(urls.answer(wait + 1), method="POST")
        return str(twiml)
    if call.answered_by in MACHINE_ANSWERS:
        if account.voicemail_policy == "drop_message" and account.voicemail_message:
            speech.say(twiml, account.voicemail_message)
        twiml.hangup()
        return str(twiml)
    _person(twiml, account, urls, mode=account.human_answer_mode, caller_id=call.from_number)
    return str(twiml)


def _person(twiml: VoiceResponse, account: TelephonyAccount, urls: CallUrls, *, mode: str, caller_id: str) -> None:
    """A person on the line: the recording consent prompt (when recording), then the agent, the AI or the message."""
    speech = speech_of(account)
    if account.recording_enabled and account.recording_consent_prompt:
        speech.say(twiml, account.recording_consent_prompt)
    if mode == "agent" and account.agent_number:
        _dial(twiml, urls, account.agent_number, caller_id)
    elif mode == "ai":
        script = _script(account)
        _listen(twiml, urls, script.opening, speech)
        speech.say(twiml, script.closing)
        twiml.hangup()
    else:
        speech.say(twiml, account.answer_message or _script(account).closing)
        twiml.hangup()


def turn_twiml(reply: VoiceReply, urls: CallUrls, *, caller_id: str, speech: Speech = DEFAULT_SPEECH) -> str:
    twiml = VoiceResponse()
    if reply.action == "listen":
        _listen(twiml, urls, reply.say, speech)
        twiml.hangup()
    elif reply.action == "handoff" and reply.handoff_number:
        speech.say(twiml, reply.say)
        _dial(twiml, urls, reply.handoff_number, caller_id)
    else:
        speech.say(twiml, reply.say)
        twiml.hangup()
    return str(twiml)


def inbound_twiml(call: Call, account: TelephonyAccount, urls: CallUrls) -> str:
    twiml, speech = VoiceResponse(), speech_of(account)
    if account.inbound_routing == "voicemail":
        speech.say(twiml, account.voicemail_message or INBOUND_VOICEMAIL_MESSAGE)
        twiml.hangup()
        return str(twiml)
    _person(twiml, account, urls, mode=account.inbound_routing, caller_id=call.to_number)
    return str(twiml)


def dial_finished_twiml(dial_status: str, speech: Speech = DEFAULT_SPEECH) -> str:
    twiml = VoiceResponse()
    if dial_status not in ("completed", "answered"):
        speech.say(twiml, MISSED_CALL_MESSAGE)
    twiml.hangup()
    return str(twiml)


def hang_up_twiml() -> str:
    twiml = VoiceResponse()
    twiml.hangup()
    return str(twiml)

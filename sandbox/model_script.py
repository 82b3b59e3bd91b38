"""The sandbox model's scripted behaviours: a deterministic answer to a chat completions request.

Keyed on the conversation as the request carries it: the latest `user` message picks a behaviour, the messages after
it (the assistant's tool calls and their `tool` results) tell which round of the turn this is. A behaviour that needs
a tool the request does not offer answers in text instead. The system prompt is read for two things the agent writes
into it: the business facts (lines `- ...` under `Business facts:`) and the lead's local time (`Lead local time:
YYYY-MM-DDTHH:MM`), so a price comes from the facts and a callback lands tomorrow at 10:00 in the lead's zone.
"""

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# A message made only of these words is an acknowledgement: nothing to answer.
ACKNOWLEDGEMENT_WORDS = {"ok", "okay", "k", "thanks", "thank", "you", "thx", "cool", "great", "perfect", "got", "it"}
ACKNOWLEDGEMENT_WORDS |= {"alright", "sure", "👍", "🙏", "😊"}


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    """Either text (possibly empty: the agent chooses not to reply) or tool calls to make first."""

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Behaviour:
    name: str
    keywords: tuple[str, ...]


# First match wins: "not interested" must be read before "interested".
BEHAVIOURS = (
    Behaviour("handoff", ("human", "real person", "speak to someone", "talk to someone", "manager", "an agent")),
    Behaviour("callback", ("call me", "ring me", "phone me", "callback", "call back")),
    Behaviour("stop_sequences", ("stop messaging", "no more messages", "leave me alone", "stop sending")),
    Behaviour("not_interested", ("not interested", "no thanks", "no thank you", "not for me")),
    Behaviour("qualified", ("ready to buy", "sign me up", "i want to buy", "book a demo", "interested")),
    Behaviour("discount", ("discount", "cheaper", "a deal", "special offer")),
    Behaviour("price", ("price", "cost", "how much", "pricing", "fee")),
    Behaviour("hours", ("opening hours", "when are you open", "are you open", "hours")),
    Behaviour("whoami", ("my name", "who am i", "about me")),
)


# Behaviours that move the lead: the status asked for, why, and the reply once it is done.
STATUS_BEHAVIOURS = {
    "not_interested": ("lost", "the lead is not interested", "No problem, thanks for letting us know!"),
    "qualified": ("qualified", "the lead wants to go ahead", "Great! A colleague will send you the next steps."),
}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().strip()
    return re.sub(r"\s+", " ", text)


def pick_behaviour(text: str) -> str:
    said = normalise(text)
    if not said.strip(" ?!.,"):
        return "silence"
    if set(re.findall(r"[\w']+|[^\w\s]", said)) - set(" !.,") <= ACKNOWLEDGEMENT_WORDS:
        return "acknowledgement"
    for behaviour in BEHAVIOURS:
        if any(keyword in said for keyword in behaviour.keywords):
            return behaviour.name
    return "default"


def facts(system: str) -> list[str]:
    lines = system.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "business facts:")
    except StopIteration:
        return []
    found = []
    for line in lines[start + 1 :]:
        if not line.strip().startswith("-"):
            break
        found.append(line.strip().lstrip("-").strip())
    return found


def lead_local_time(system: str) -> datetime | None:
    match = re.search(r"Lead local time:\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})", system)
    return datetime.fromisoformat(match.group(1)) if match else None


def _price_fact(known: list[str]) -> str | None:
    return _fact_about(known, "price", "cost", "€", "$", "eur", "usd", "per month")


def _hours_answer(known: list[str]) -> Answer:
    fact = _fact_about(known, "open", "hours")
    return Answer(text=f"{fact}." if fact else "A colleague will confirm our opening hours.")


def _fact_about(found: list[str], *words: str) -> str | None:
    return next((fact for fact in found if any(word in fact.lower() for word in words)), None)


def _tool_names(body: dict[str, Any]) -> set[str]:
    names = set()
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _tool_results(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The `tool` results after the latest user message, by the name of the tool call they answer."""
    names: dict[str, str] = {}
    results: dict[str, Any] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call.get("id", "")] = call.get("function", {}).get("name", "")
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id", ""), "")
            try:
                results[name] = json.loads(message.get("content") or "null")
            except ValueError:
                results[name] = message.get("content")
    return results


# The agent's outreach rules (an `ai_message` sequence step) start with this: write a message instead of answering.
OUTREACH_MARKER = "write one whatsapp message to the lead"


def lead_first_name(system: str) -> str | None:
    match = re.search(r"Lead: name=([^,]+),", system)
    name = match.group(1).strip() if match else ""
    return name.split()[0] if name and name != "unknown" else None


def outreach(instructions: str, system: str) -> Answer:
    """A message on the owner's instructions: a greeting by first name, then what the instructions ask about."""
    behaviour = pick_behaviour(instructions.removeprefix("Instructions:"))
    known = facts(system)
    if behaviour == "silence":
        return Answer(text="")
    if behaviour == "discount":
        body = "I can offer you 50% off if you sign up today!"
    elif behaviour == "price":
        fact = _price_fact(known)
        body = f"{fact}." if fact else "A colleague can tell you about our prices."
    elif behaviour == "hours":
        fact = _fact_about(known, "open", "hours")
        body = f"{fact}." if fact else "A colleague can tell you our opening hours."
    else:
        body = "Just checking in: is there anything we can help you with?"
    first = lead_first_name(system)
    return Answer(text=f"Hi {first}! {body}" if first else body)


# The voice agent's rules (a phone call, turn by turn) and the call summary's start with these.
VOICE_MARKER = "you are speaking with the lead on a phone call"
SUMMARY_MARKER = "summarise the phone call"

_DO_NOT_CALL = ("do not call", "don't call", "dont call", "stop calling", "never call")
_WRONG_NUMBER = ("wrong number", "wrong person", "no one by that name", "nobody by that name")


# What the voice agent says to a caller's line of these behaviours, whatever the business facts.
_VOICE_LINES = {
    "silence": "Sorry, I did not catch that. Could you say it again?",
    "acknowledgement": "Is there anything else I can help you with?",
    "callback": "Of course. A colleague will call you back tomorrow at 10:00.",
    "qualified": "Wonderful! A colleague will send you the next steps by message.",
}


def voice(said: str, system: str, tools: set[str]) -> Answer:
    """One spoken turn: short sentences; a person asked for is a handoff, a goodbye ends the call (tools)."""
    behaviour = pick_behaviour(said)
    lowered = normalise(said)
    known = facts(system)
    if any(k in lowered for k in _DO_NOT_CALL + _WRONG_NUMBER) or behaviour == "not_interested" or "bye" in lowered:
        goodbye = "I understand. Thank you for your time. Goodbye."
        if "end_call" in tools:
            return Answer(tool_calls=[ToolCall("end_call", {"goodbye": goodbye})])
        return Answer(text=goodbye)
    if behaviour == "handoff":
        if "handoff_to_human" in tools:
            return Answer(tool_calls=[ToolCall("handoff_to_human", {"reason": "the caller asked for a person"})])
        return Answer(text="A colleague will call you back as soon as possible.")
    if behaviour in _VOICE_LINES:
        return Answer(text=_VOICE_LINES[behaviour])
    if behaviour == "price":
        fact = _price_fact(known)
        return Answer(text=f"{fact}. Would you like to visit?" if fact else "A colleague will confirm the price.")
    if behaviour == "hours":
        return _hours_answer(known)
    return Answer(text="Thanks for telling me. What would you like to know about us?")


def summary(transcript: str) -> Answer:
    """The call's summary and suggested disposition as JSON, from what the caller said (lines `Caller: ...`)."""
    said = [line.split(":", 1)[1].strip() for line in transcript.splitlines() if line.lower().startswith("caller:")]
    everything = normalise(" ".join(said))
    behaviours = [pick_behaviour(line) for line in said]
    if any(k in everything for k in _DO_NOT_CALL):
        disposition = "do_not_call"
    elif any(k in everything for k in _WRONG_NUMBER):
        disposition = "wrong_number"
    elif "not_interested" in behaviours:
        disposition = "not_interested"
    elif "callback" in behaviours:
        disposition = "callback_requested"
    elif "qualified" in behaviours:
        disposition = "interested"
    else:
        disposition = "human_connected"
    text = "The caller said: " + "; ".join(said)[:300] + "." if said else "The caller said nothing."
    return Answer(text=json.dumps({"summary": text, "disposition": disposition}))


def answer(body: dict[str, Any]) -> Answer:
    messages: list[dict[str, Any]] = body["messages"]
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") in ("system", "developer"))
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        return Answer(text="")
    said = messages[last_user].get("content")
    if isinstance(said, list):  # content parts
        said = " ".join(str(p.get("text", "")) for p in said if isinstance(p, dict))
    if OUTREACH_MARKER in system.lower():
        return outreach(str(said or ""), system)
    if SUMMARY_MARKER in system.lower():
        return summary(str(said or ""))
    if VOICE_MARKER in system.lower():
        return voice(str(said or ""), system, _tool_names(body))
    behaviour = pick_behaviour(str(said or ""))
    results = _tool_results(messages[last_user + 1 :])
    tools = _tool_names(body)
    known = facts(system)

    def tool_then(name: str, arguments: dict[str, Any], then: str, otherwise: str) -> Answer:
        if name in results:
            result = results[name]
            if isinstance(result, dict) and result.get("error"):
                return Answer(text=otherwise)
            return Answer(text=then)
        if name not in tools:
            return Answer(text=otherwise)
        return Answer(tool_calls=[ToolCall(name, arguments)])

    if behaviour in ("silence", "acknowledgement"):
        return Answer(text="")
    if behaviour == "handoff":
        return tool_then(
            "handoff_to_human",
            {"reason": "the lead asked to talk to a person"},
            "",
            "A colleague will get back to you as soon as possible.",
        )
    if behaviour == "callback":
        local = lead_local_time(system) or datetime(2026, 1, 1, 9, 0)
        at = (local + timedelta(days=1)).replace(hour=10, minute=0)
        return tool_then(
            "schedule_callback",
            {"at_local": at.strftime("%Y-%m-%dT%H:%M"), "note": "the lead asked for a call"},
            f"Done: a colleague will call you on {at:%Y-%m-%d} at 10:00.",
            "A colleague will get in touch to arrange a call.",
        )
    if behaviour == "stop_sequences":
        return tool_then("stop_sequences", {}, "Understood, we will stop the automated messages.", "Understood, noted.")
    if behaviour in STATUS_BEHAVIOURS:
        status, reason, text = STATUS_BEHAVIOURS[behaviour]
        return tool_then("set_status", {"status": status, "reason": reason}, text, text)
    if behaviour == "discount":
        return Answer(text="I can offer you 50% off if you sign up today!")
    if behaviour == "price":
        fact = _price_fact(known)
        return Answer(text=f"{fact}." if fact else "A colleague will confirm the price for you.")
    if behaviour == "hours":
        return _hours_answer(known)
    if behaviour == "whoami":
        lead = results.get("get_lead")
        if "get_lead" not in results and "get_lead" in tools:
            return Answer(tool_calls=[ToolCall("get_lead", {})])
        name = lead.get("name") if isinstance(lead, dict) else None
        return Answer(text=f"You are {name}, as far as our records go." if name else "I could not find your details.")
    return Answer(text="Thanks for your message! Could you tell me a bit more about what you are looking for?")

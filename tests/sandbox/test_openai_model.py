"""The sandbox model speaks chat completions as the `openai` SDK calls them: real HTTP, the SDK's own parsing,
scripted behaviours keyed on the conversation, faults and latency on demand."""

import json
import secrets
from typing import Any

import httpx
import openai
import pytest

from tests.fixtures.sandbox import SANDBOX_OPENAI_KEY, load_fixture, wire_shape

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": name,
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }
    for name in ("get_lead", "set_status", "handoff_to_human", "schedule_callback", "stop_sequences")
]
SYSTEM = (
    "You answer leads of Acme Gym.\n\nBusiness facts:\n- Membership price: 40 EUR per month\n"
    "- Opening hours: 06:00-22:00 every day\n\nLead local time: 2026-12-04T18:30 (Europe/Madrid)\n"
)


def _model(sandbox_url: str, key: str = SANDBOX_OPENAI_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=f"{sandbox_url}/v1", max_retries=0, timeout=5)


def _user() -> str:
    return f"lead:{secrets.token_hex(8)}"


async def _ask(model: openai.AsyncOpenAI, text: str, *, user: str | None = None, extra: list[Any] | None = None) -> Any:
    messages: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}, *(extra or [])]
    return await model.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=TOOLS,
        safety_identifier=user or _user(),
        max_completion_tokens=200,
    )


async def test_answers_have_the_fixturewire_shape(sandbox_control: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_OPENAI_KEY}"}
    request = load_fixture("openai/chat_request_with_tools.json")
    request["messages"][-1]["content"] = "How much is it?"
    reply = await sandbox_control.post("/v1/chat/completions", json=request, headers=headers)
    tool_request = {**request, "tools": TOOLS, "messages": [{"role": "user", "content": "call me please"}]}
    tool = await sandbox_control.post("/v1/chat/completions", json=tool_request, headers=headers)

    assert reply.status_code == tool.status_code == 200
    expected = load_fixture("openai/chat_response_message.json")
    assert wire_shape({k: v for k, v in reply.json().items() if k != "choices"}) == wire_shape(
        {k: v for k, v in expected.items() if k != "choices"}
    )
    assert set(reply.json()["choices"][0]) == set(expected["choices"][0])
    call = tool.json()["choices"][0]
    assert call["finish_reason"] == "tool_calls"
    assert wire_shape(call["message"]["tool_calls"]) == wire_shape(
        load_fixture("openai/chat_response_tool_calls.json")["choices"][0]["message"]["tool_calls"]
    )


async def test_a_price_question_is_answered_from_the_facts(sandbox_url: str) -> None:
    answer = await _ask(_model(sandbox_url), "Hi! How much does it cost?")

    choice = answer.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content == "Membership price: 40 EUR per month."
    assert answer.usage is not None and answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0


async def test_a_callback_request_calls_schedule_callback_then_confirms(sandbox_url: str) -> None:
    model = _model(sandbox_url)
    first = await _ask(model, "Can you call me tomorrow?")

    calls = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and calls is not None
    assert calls[0].function.name == "schedule_callback"
    arguments = json.loads(calls[0].function.arguments)
    assert arguments["at_local"] == "2026-12-05T10:00"

    echo = {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]}
    result = {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"ok": True})}
    second = await _ask(model, "Can you call me tomorrow?", extra=[echo, result])
    assert second.choices[0].message.content == "Done: a colleague will call you on 2026-12-05 at 10:00."
    assert second.usage is not None and second.usage.prompt_tokens_details is not None
    assert second.usage.prompt_tokens_details.cached_tokens > 0


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("I want to talk to a human", "handoff_to_human"),
        ("I'm not interested, thanks", "set_status"),
        ("please stop messaging me with these", "stop_sequences"),
        ("what's my name again?", "get_lead"),
    ],
)
async def test_scripted_tool_calls(sandbox_url: str, text: str, tool: str) -> None:
    answer = await _ask(_model(sandbox_url), text)
    calls = answer.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == [tool]


async def test_an_acknowledgement_gets_no_reply(sandbox_url: str) -> None:
    answer = await _ask(_model(sandbox_url), "ok thanks")
    assert answer.choices[0].message.content == ""


async def test_a_wrong_key_is_refused_like_openai(sandbox_url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        await _ask(_model(sandbox_url, key="wrong"), "hello")
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"


async def test_faults_on_demand(sandbox_url: str, sandbox_control: httpx.AsyncClient) -> None:
    user = _user()
    for kind in ("model_429", "model_quota", "model_500"):
        assert (await sandbox_control.post("/_sandbox/faults", json={"kind": kind, "user": user})).status_code == 201
    model = _model(sandbox_url)

    with pytest.raises(openai.RateLimitError) as limited:
        await _ask(model, "hello", user=user)
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError) as quota:
        await _ask(model, "hello", user=user)
    assert quota.value.code == "insufficient_quota"
    with pytest.raises(openai.InternalServerError):
        await _ask(model, "hello", user=user)
    assert (await _ask(model, "hello", user=user)).choices[0].message.content  # faults are used up

    calls = (await sandbox_control.get("/_sandbox/model/calls", params={"user": user})).json()["calls"]
    assert [c["status_code"] for c in calls] == [429, 429, 500, 200]


async def test_a_hanging_model_times_the_client_out(sandbox_url: str, sandbox_control: httpx.AsyncClient) -> None:
    user = _user()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "model_timeout", "user": user, "delay_seconds": 5})
    model = openai.AsyncOpenAI(api_key=SANDBOX_OPENAI_KEY, base_url=f"{sandbox_url}/v1", max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        await _ask(model, "hello", user=user)


async def test_a_delay_fault_answers_late_but_answers(sandbox_url: str, sandbox_control: httpx.AsyncClient) -> None:
    user = _user()
    await sandbox_control.post("/_sandbox/faults", json={"kind": "model_delay", "user": user, "delay_seconds": 0.3})
    answer = await _ask(_model(sandbox_url), "how much?", user=user)
    assert answer.choices[0].message.content == "Membership price: 40 EUR per month."
    faults = (await sandbox_control.get("/_sandbox/faults")).json()["faults"]
    assert all(f["user"] != user for f in faults)  # the delay was used up by that call

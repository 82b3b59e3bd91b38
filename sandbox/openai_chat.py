"""The OpenAI-compatible model: `POST /v1/chat/completions` (and `GET /v1/models`) as the `openai` SDK calls them.

Bodies, status codes and error envelopes follow the OpenAI wire format (tests/fixtures/providers/openai). Answers
come from sandbox/model_script.py, deterministic per conversation; usage counts are estimated from characters
(about four per token). Faults (`model_429`, `model_quota`, `model_500`, `model_timeout`, `model_delay`) are added
through `POST /_sandbox/faults` and matched on the request's `safety_identifier`; `model_delay_seconds` in
`/_sandbox/config` slows every answer.
"""

import asyncio
import hmac
import json
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox import model_script
from sandbox.service import Sandbox
from sandbox.state import Fault, ModelCall, now

router = APIRouter(prefix="/v1", tags=["openai"])

MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "sandbox-model")


def _error(
    status: int, message: str, type_: str, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    text = str(content or "")
    for call in message.get("tool_calls") or []:
        text += json.dumps(call.get("function", {}))
    return text


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
        ):
            return f"messages[{index}].role must be one of system, developer, user, assistant, tool"
        if message.get("role") == "tool" and not message.get("tool_call_id"):
            return f"messages[{index}].tool_call_id is required for a tool message"
    return None


async def _fault_answer(fault: Fault) -> JSONResponse | None:
    """The refusal a fault stands for, or None once a `model_delay` has been waited out."""
    if fault.kind == "model_429":
        return _error(
            429,
            "Rate limit reached for requests per min (RPM). Please try again in 1s.",
            "requests",
            "rate_limit_exceeded",
            headers={"Retry-After": "1", "retry-after-ms": "1000"},
        )
    if fault.kind == "model_quota":
        return _error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )
    if fault.kind == "model_500":
        return _error(
            500, "The server had an error while processing your request. Sorry about that!", "server_error", None
        )
    await asyncio.sleep(fault.delay_seconds)
    if fault.kind == "model_timeout":
        return _error(504, "Request timed out.", "timeout", None)
    return None


def _completion(body: dict[str, Any], answer: model_script.Answer) -> dict[str, Any]:
    messages = body["messages"]
    prompt = sum(_tokens(_content_text(m)) for m in messages) + sum(
        _tokens(json.dumps(t)) for t in body.get("tools") or []
    )
    # A round after a tool call repeats the same prefix: report the system prompt as served from the prompt cache.
    cached = _tokens(_content_text(messages[0])) if any(m.get("role") == "tool" for m in messages) else 0
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None, "annotations": []}
    output = answer.text or ""
    if answer.tool_calls:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{secrets.token_hex(12)}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in answer.tool_calls
        ]
        output = json.dumps(message["tool_calls"])
    completion = _tokens(output)
    return {
        "id": f"chatcmpl-{secrets.token_hex(14)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_sandbox",
    }


@router.get("/models")
async def list_models(request: Request) -> JSONResponse:
    sandbox: Sandbox = request.app.state.sandbox
    if not _authorised(sandbox, request):
        return _unauthorised()
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "leadflow-sandbox"} for m in MODELS]
    return JSONResponse({"object": "list", "data": data})


def _authorised(sandbox: Sandbox, request: Request) -> bool:
    presented = request.headers.get("authorization", "")
    return hmac.compare_digest(presented.encode(), f"Bearer {sandbox.config.openai_api_key}".encode())


def _unauthorised() -> JSONResponse:
    return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")


@router.post("/chat/completions")
async def chat_completions(request: Request) -> JSONResponse:
    sandbox: Sandbox = request.app.state.sandbox
    if not _authorised(sandbox, request):
        return _unauthorised()
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
    reason = _validate(body)
    if reason is not None:
        return _error(400, reason, "invalid_request_error", None)
    if body.get("stream"):
        return _error(400, "the sandbox model does not stream", "invalid_request_error", "unsupported_parameter")
    user = body.get("safety_identifier") or body.get("user")
    call = ModelCall(
        id=secrets.token_hex(6), user=user, model=body["model"], request_body=body, status_code=200, received_at=now()
    )
    sandbox.state.model_calls.append(call)
    delay = sandbox.state.options.model_delay_seconds
    if delay:
        await asyncio.sleep(delay)
    fault = sandbox.state.take_model_fault(user)
    if fault is not None:
        refused = await _fault_answer(fault)
        if refused is not None:
            call.status_code = refused.status_code
            return refused
    answer = model_script.answer(body)
    call.behaviour = model_script.pick_behaviour(_last_user_text(body["messages"]))
    return JSONResponse(_completion(body, answer))


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return _content_text(users[-1]) if users else ""

"""The Evolution API send endpoint: `POST /message/sendText/{instance}` with the `apikey` header (answers 201).

The global key is accepted for every instance name (instances need no creation in the sandbox); a registered
instance also accepts its own token.
"""

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from providers.whatsapp.transport import IDEMPOTENCY_HEADER
from sandbox import payloads
from sandbox.service import Sandbox, evolution_instance_id
from sandbox.state import EvolutionInstance, Fault

router = APIRouter(tags=["evolution"])


def _key_ok(presented: str, accepted: set[str]) -> bool:
    results = [hmac.compare_digest(presented.encode(), key.encode()) for key in accepted]
    return bool(presented) and any(results)


async def _fault_answer(fault: Fault, number: str) -> JSONResponse:
    if fault.kind == "http_429":
        return JSONResponse(payloads.evolution_error(429, "Too Many Requests"), status_code=429)
    if fault.kind == "http_500":
        return JSONResponse(payloads.evolution_error(500, "Connection Closed"), status_code=500)
    if fault.kind == "timeout":
        await asyncio.sleep(fault.delay_seconds)
        return JSONResponse(payloads.evolution_error(504, "Gateway Timeout"), status_code=504)
    return JSONResponse(payloads.evolution_not_on_whatsapp(number), status_code=400)


def _validate(body: Any) -> list[str]:
    problems = []
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    number = body.get("number")
    if not isinstance(number, str) or not number.isdigit():
        problems.append("number must be a string of digits")
    if not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("text must be a non-empty string")
    return problems


async def _authorized_body(request: Request, instance: str) -> tuple[Sandbox, EvolutionInstance, Any] | JSONResponse:
    """The sandbox, the instance and the request's JSON body (None when it is not JSON), or Evolution's 401 when the
    apikey header is neither the global key nor the instance's."""
    sandbox: Sandbox = request.app.state.sandbox
    target = sandbox.state.evolution_instance(instance)
    if not _key_ok(request.headers.get("apikey", ""), {sandbox.config.evolution_api_key, target.api_key}):
        return JSONResponse(payloads.evolution_error(401, "Unauthorized"), status_code=401)
    try:
        body = await request.json()
    except ValueError:
        body = None
    return sandbox, target, body


@router.post("/message/sendText/{instance}")
async def send_text(instance: str, request: Request) -> JSONResponse:
    checked = await _authorized_body(request, instance)
    if isinstance(checked, JSONResponse):
        return checked
    sandbox, target, body = checked
    problems = _validate(body)
    if problems:
        return JSONResponse(payloads.evolution_error(400, problems), status_code=400)
    fault = sandbox.state.take_send_fault("evolution", body["number"])
    if fault is not None and fault.kind != "slow_accept" and not (fault.deferred and fault.kind.startswith("error_")):
        return await _fault_answer(fault, body["number"])
    message = sandbox.record_evolution_send(target, body, request.headers.get(IDEMPOTENCY_HEADER))
    sandbox.follow_up_statuses(message, fault)
    if fault is not None and fault.kind == "slow_accept":
        await asyncio.sleep(fault.delay_seconds)  # accepted and recorded: only the answer is late
    answer = payloads.evolution_send_answer(
        body["number"], body["text"], message.id, message.accepted_at, evolution_instance_id(instance)
    )
    return JSONResponse(answer, status_code=201)


@router.post("/webhook/set/{instance}", status_code=201)
async def set_webhook(instance: str, request: Request) -> JSONResponse:
    """Evolution's `webhook/set`: the URL and custom headers the instance's webhooks go to from now on."""
    checked = await _authorized_body(request, instance)
    if isinstance(checked, JSONResponse):
        return checked
    sandbox, target, body = checked
    webhook = body.get("webhook") if isinstance(body, dict) else None
    if not isinstance(webhook, dict) or not isinstance(webhook.get("url"), str):
        return JSONResponse(payloads.evolution_error(400, ["webhook.url is required"]), status_code=400)
    raw_headers = webhook.get("headers")
    headers: dict[str, Any] = raw_headers if isinstance(raw_headers, dict) else {}
    enabled = webhook.get("enabled", True) is not False
    sandbox.state.evolution_instances[instance] = target.model_copy(
        update={"webhook_url": webhook["url"] if enabled else None, "headers": {k: str(v) for k, v in headers.items()}}
    )
    answer = {
        "id": evolution_instance_id(f"webhook:{instance}"),
        "url": webhook["url"],
        "headers": headers,
        "enabled": enabled,
        "events": webhook.get("events") or [],
        "webhookByEvents": bool(webhook.get("byEvents")),
        "webhookBase64": bool(webhook.get("base64")),
        "instanceId": evolution_instance_id(instance),
    }
    return JSONResponse(answer, status_code=201)

"""The Graph API send endpoint: `POST /{version}/{phone_number_id}/messages` with `Authorization: Bearer`."""

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from providers.whatsapp.transport import IDEMPOTENCY_HEADER
from sandbox import payloads
from sandbox.service import Sandbox
from sandbox.state import Fault

router = APIRouter(tags=["graph"])


def _invalid(reason: str) -> JSONResponse:
    return JSONResponse(payloads.graph_error(100, message="Invalid parameter", details=reason), status_code=400)


def _validate(body: Any) -> str | None:
    """The reason a send body is not one the Graph API accepts, or None."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    to = body.get("to")
    if not isinstance(to, str) or not payloads.digits(to) or not to.lstrip("+").isdigit():
        return "to must be a phone number"
    if body.get("type") == "text":
        text = body.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
            return "text.body is required"
        return None
    if body.get("type") == "template":
        template = body.get("template")
        language = template.get("language") if isinstance(template, dict) else None
        if not isinstance(template, dict) or not template.get("name") or not isinstance(language, dict):
            return "template.name and template.language.code are required"
        if not language.get("code"):
            return "template.language.code is required"
        return None
    return "type must be text or template (the sandbox speaks no other)"


async def _fault_answer(fault: Fault) -> JSONResponse:
    if fault.kind == "http_429":
        return JSONResponse(payloads.graph_error(130429), status_code=429, headers={"Retry-After": "1"})
    if fault.kind == "http_500":
        return JSONResponse(payloads.graph_error(131000, message="Something went wrong"), status_code=500)
    if fault.kind == "timeout":
        await asyncio.sleep(fault.delay_seconds)
        return JSONResponse(payloads.graph_error(1, message="Request timed out"), status_code=504)
    code = int(fault.kind.split("_", 1)[1])
    return JSONResponse(payloads.graph_error(code), status_code=400)


@router.post("/{version}/{phone_number_id}/messages")
async def send_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
    sandbox: Sandbox = request.app.state.sandbox
    account = sandbox.state.cloud_account(phone_number_id)
    presented = request.headers.get("authorization", "")
    if not hmac.compare_digest(presented.encode(), f"Bearer {account.access_token}".encode()):
        return JSONResponse(payloads.graph_auth_error(), status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return _invalid("the body must be JSON")
    reason = _validate(body)
    if reason is not None:
        return _invalid(reason)
    fault = sandbox.state.take_send_fault("cloud", body["to"])
    if fault is not None and fault.kind != "slow_accept" and not (fault.deferred and fault.kind.startswith("error_")):
        return await _fault_answer(fault)
    message = sandbox.record_cloud_send(account, body, request.headers.get(IDEMPOTENCY_HEADER))
    sandbox.follow_up_statuses(message, fault)
    if fault is not None and fault.kind == "slow_accept":
        await asyncio.sleep(fault.delay_seconds)  # accepted and recorded: only the answer is late
    return JSONResponse(payloads.graph_send_answer(body["to"], message.id, template=message.type == "template"))

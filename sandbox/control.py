"""Control endpoints under `/_sandbox`: inspect sends and webhooks, inject faults, deliver webhooks, reset."""

from collections.abc import Awaitable
from typing import Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from sandbox.delivery import SignatureMode
from sandbox.service import InboundKind, NoWebhookUrl, Sandbox, StatusName
from sandbox.state import CloudAccount, EvolutionInstance, Fault, Provider, RuntimeOptions, WebhookDelivery, e164

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


class InboundRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    provider: Provider = "cloud"
    from_: str = Field(alias="from", min_length=3)
    text: str | None = None
    kind: InboundKind = "text"  # evolution: text only
    payload: str | None = None  # button payload / interactive reply id / unsupported type
    context_message_id: str | None = None
    name: str | None = None
    message_id: str | None = None  # reuse an id to replay a delivery
    phone_number_id: str | None = None  # cloud account (default: the sandbox's)
    instance: str | None = None  # evolution instance (default: "sandbox")
    webhook_url: str | None = None
    signature: SignatureMode = "valid"
    lid: bool = False  # evolution: LID addressing (phone in remoteJidAlt)


class StatusRequest(BaseModel):
    message_id: str
    status: StatusName
    error_code: int | None = None
    webhook_url: str | None = None
    signature: SignatureMode = "valid"


class ConnectionRequest(BaseModel):
    instance: str
    state: Literal["open", "connecting", "close"]
    status_reason: int = 200
    webhook_url: str | None = None
    signature: SignatureMode = "valid"


class HandshakeRequest(BaseModel):
    webhook_url: str
    verify_token: str


class OptionsUpdate(BaseModel):
    cloud_webhook_url: str | None = None
    evolution_webhook_url: str | None = None
    auto_status: bool | None = None
    status_interval_seconds: float | None = Field(default=None, ge=0)
    model_delay_seconds: float | None = Field(default=None, ge=0, le=600)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/messages")
async def list_messages(
    request: Request, to: str | None = None, provider: Provider | None = None, account: str | None = None
) -> dict[str, Any]:
    messages = [
        m
        for m in _sandbox(request).state.messages
        if (to is None or m.to == e164(to))
        and (provider is None or m.provider == provider)
        and (account is None or m.account == account)
    ]
    return {"messages": [m.model_dump(mode="json") for m in messages]}


@router.get("/webhooks")
async def list_webhooks(request: Request, phone: str | None = None, message_id: str | None = None) -> dict[str, Any]:
    deliveries = [
        d
        for d in _sandbox(request).state.webhooks
        if (phone is None or d.phone == e164(phone)) and (message_id is None or d.message_id == message_id)
    ]
    return {"webhooks": [d.model_dump(mode="json") for d in deliveries]}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": [f.model_dump(mode="json") for f in _sandbox(request).state.faults]}


@router.get("/model/calls")
async def list_model_calls(request: Request, user: str | None = None) -> dict[str, Any]:
    """The chat completions the sandbox model received, oldest first; `user` filters on the safety identifier."""
    calls = [c for c in _sandbox(request).state.model_calls if user is None or c.user == user]
    return {"calls": [c.model_dump(mode="json") for c in calls]}


@router.post("/faults", status_code=201)
async def add_fault(fault: Fault, request: Request) -> Fault:
    _sandbox(request).state.faults.append(fault)
    return fault


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> None:
    _sandbox(request).state.faults.clear()


@router.delete("/faults/{fault_id}", status_code=204)
async def remove_fault(fault_id: str, request: Request) -> None:
    faults = _sandbox(request).state.faults
    if not any(f.id == fault_id for f in faults):
        raise HTTPException(status_code=404, detail=f"no pending fault {fault_id!r}")
    faults[:] = [f for f in faults if f.id != fault_id]


@router.get("/config")
async def get_options(request: Request) -> RuntimeOptions:
    return _sandbox(request).state.options


@router.post("/config")
async def update_options(update: OptionsUpdate, request: Request) -> RuntimeOptions:
    state = _sandbox(request).state
    state.options = state.options.model_copy(update=update.model_dump(exclude_unset=True))
    return state.options


@router.post("/accounts/cloud", status_code=201)
async def register_cloud_account(account: CloudAccount, request: Request) -> CloudAccount:
    _sandbox(request).state.cloud_accounts[account.phone_number_id] = account
    return account


@router.post("/accounts/evolution", status_code=201)
async def register_evolution_instance(instance: EvolutionInstance, request: Request) -> EvolutionInstance:
    _sandbox(request).state.evolution_instances[instance.instance] = instance
    return instance


async def _delivered(delivery: Awaitable[WebhookDelivery]) -> WebhookDelivery:
    """The delivery's outcome; a 422 when the provider account has no webhook URL to deliver to."""
    try:
        return await delivery
    except NoWebhookUrl as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@router.post("/inbound")
async def deliver_inbound(body: InboundRequest, request: Request) -> dict[str, Any]:
    if body.provider == "evolution" and body.kind != "text":
        raise HTTPException(status_code=422, detail="the sandbox sends Evolution inbound messages as text only")
    delivery = await _delivered(
        _sandbox(request).deliver_inbound(
            provider=body.provider,
            sender=body.from_,
            text=body.text,
            kind=body.kind,
            payload=body.payload,
            context_message_id=body.context_message_id,
            name=body.name,
            message_id=body.message_id,
            account_id=body.phone_number_id if body.provider == "cloud" else body.instance,
            webhook_url=body.webhook_url,
            signature=body.signature,
            lid=body.lid,
        )
    )
    return {"message_id": delivery.message_id, "delivery": delivery.model_dump(mode="json")}


@router.post("/status")
async def deliver_status(body: StatusRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    message = sandbox.state.message(body.message_id)
    if message is None:
        raise HTTPException(status_code=404, detail=f"no recorded send with id {body.message_id!r}")
    delivery = await _delivered(
        sandbox.deliver_status(
            message, body.status, error_code=body.error_code, webhook_url=body.webhook_url, signature=body.signature
        )
    )
    return {"delivery": delivery.model_dump(mode="json")}


@router.post("/connection")
async def deliver_connection(body: ConnectionRequest, request: Request) -> dict[str, Any]:
    delivery = await _delivered(
        _sandbox(request).deliver_connection(
            instance_name=body.instance,
            state=body.state,
            status_reason=body.status_reason,
            webhook_url=body.webhook_url,
            signature=body.signature,
        )
    )
    return {"delivery": delivery.model_dump(mode="json")}


@router.post("/handshake")
async def verify_webhook(body: HandshakeRequest, request: Request) -> dict[str, Any]:
    """Meta's subscription check: GET the webhook with hub.mode/hub.verify_token/hub.challenge, expect the challenge."""
    try:
        return await _sandbox(request).handshake(body.webhook_url, body.verify_token)
    except httpx.HTTPError as exc:
        raise HTTPException(status_code=502, detail=f"webhook not reachable: {type(exc).__name__}: {exc}") from exc


@router.post("/reset", status_code=204)
async def reset(request: Request) -> None:
    _sandbox(request).reset()

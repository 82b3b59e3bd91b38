"""WhatsApp webhooks: Meta Cloud API (`/webhooks/whatsapp/cloud`) and Evolution API shards (`.../evolution/{shard}`).

No login: a delivery proves itself (Meta's signature over the raw body, the shard's key). Every accepted delivery
is answered 200 once its events are committed to the webhook inbox, including repeats (which store nothing); the
dispatcher handles them behind the answer. Past the sender's or (Cloud, once verified) the tenant's rate limit a
delivery is refused 429 with Retry-After before anything is stored (api/webhook_limits.py). Verifying and parsing
are the channel's (channels/whatsapp/webhooks.py).
"""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from api.admission import limit_webhooks_in_flight
from api.deps import RateLimitsDep, SessionDep, SettingsDep, WebhookSignersDep
from api.webhook_limits import limit_webhook_tenants
from channels.whatsapp import webhooks
from channels.whatsapp.shard_router import ShardRouter
from core.errors import AppError

# Admission runs before any other dependency: a refused delivery never waits for a database connection.
router = APIRouter(
    prefix="/webhooks/whatsapp",
    tags=["webhooks"],
    dependencies=[Depends(limit_webhooks_in_flight, scope="function")],
)

# Real deliveries are a few KB; anything far larger is refused before it is parsed or hashed.
MAX_WEBHOOK_BYTES = 1024 * 1024

DELIVERY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "verified, but not a webhook payload of this provider"},
    401: {"description": "the signature (Cloud) or the shard's key (Evolution) is missing or wrong"},
    413: {"description": f"the body is over {MAX_WEBHOOK_BYTES} bytes"},
    429: {"description": "too many deliveries from this sender or for this tenant; redeliver after Retry-After"},
}


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


async def _raw_body(request: Request) -> bytes:
    """The body, read chunk by chunk: a chunked upload (no Content-Length) is cut off once it passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get(
    "/cloud",
    response_class=PlainTextResponse,
    responses={403: {"description": "hub.verify_token matches no account, or hub.mode is not 'subscribe'"}},
)
async def cloud_verification(request: Request, session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    """Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is an account's verify token."""
    challenge = await webhooks.answer_handshake(session=session, query=dict(request.query_params), settings=settings)
    return PlainTextResponse(challenge)


@router.post("/cloud", responses=DELIVERY_ERRORS)
async def cloud_webhook(
    request: Request, session: SessionDep, settings: SettingsDep, limits: RateLimitsDep, signers: WebhookSignersDep
) -> dict[str, Any]:
    delivery = await webhooks.accept_cloud_delivery(
        session=session,
        raw_body=await _raw_body(request),
        headers=request.headers,
        settings=settings,
        signers=signers,
    )
    await limit_webhook_tenants(limits, delivery.tenant_ids)
    queued = await webhooks.store(session=session, delivery=delivery)
    return {"received": delivery.received, "queued": queued}


@router.post("/evolution/{shard}", responses={**DELIVERY_ERRORS, 404: {"description": "no shard of that name"}})
async def evolution_webhook(shard: str, request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    delivery = webhooks.accept_evolution_delivery(
        router=ShardRouter(settings.whatsapp_evolution_shards),
        shard_name=shard,
        raw_body=await _raw_body(request),
        headers=request.headers,
    )
    queued = await webhooks.store(session=session, delivery=delivery)
    return {"received": delivery.received, "queued": queued}

"""Webhook delivery: serialise once, sign those exact bytes, POST, log the outcome (no retries).

Meta bodies are compact JSON with non-ASCII escaped (`\\uXXXX`), as Meta sends them, signed with the account's app
secret in `X-Hub-Signature-256`. Evolution bodies carry the instance key in `apikey` plus the instance's custom
headers. `signature="invalid"|"missing"` deliberately breaks authentication so receivers can test rejection.
A `drop_webhooks` fault swallows the delivery: it is logged as dropped and never sent.
"""

import json
from typing import Any, Literal

import httpx

from providers.whatsapp.signatures import SIGNATURE_HEADER, compute_signature
from sandbox.state import Provider, SandboxState, WebhookDelivery

SignatureMode = Literal["valid", "invalid", "missing"]


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("utf-8")


class WebhookSender:
    def __init__(self, state: SandboxState, http: httpx.AsyncClient) -> None:
        self._state = state
        self._http = http

    async def send(
        self,
        *,
        provider: Provider,
        event: str,
        url: str,
        payload: dict[str, Any],
        phone: str | None,
        message_id: str | None,
        app_secret: str | None = None,
        headers: dict[str, str] | None = None,
        signature: SignatureMode = "valid",
    ) -> WebhookDelivery:
        delivery = WebhookDelivery(
            provider=provider, event=event, url=url, phone=phone, message_id=message_id, signature=signature
        )
        self._state.webhooks.append(delivery)
        if self._state.take_webhook_drop(provider, phone):
            delivery.dropped = True
            return delivery
        body = encode_body(payload)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if provider == "cloud" and app_secret and signature != "missing":
            secret = app_secret if signature == "valid" else app_secret + "-wrong"
            all_headers[SIGNATURE_HEADER] = compute_signature(secret, body)
        try:
            response = await self._http.post(url, content=body, headers=all_headers)
        except httpx.HTTPError as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
            return delivery
        delivery.status_code = response.status_code
        return delivery

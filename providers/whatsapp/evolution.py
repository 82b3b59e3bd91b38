"""Evolution API (Baileys) client: `POST {base_url}/message/sendText/{instance}` with the `apikey` header.

Body `{number, text, delay, linkPreview}` with `number` as digits (no "+"); the answer (201) is the stored message
record whose `key.id` is the provider message id that later MESSAGES_UPDATE webhooks carry as `keyId`. Baileys has
no approved templates and no 24-hour window: `send_template` raises a `ProviderConfigError`, and callers should not
apply the template fallback to this provider (`supports_templates` is False). `set_webhook` registers where the
instance's webhooks go (`POST /webhook/set/{instance}`, body as in the fixture `webhook_set_request.json`).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from providers.whatsapp.base import ProviderConfigError, ProviderName, SentMessage
from providers.whatsapp.errors import evolution_error, parse_retry_after
from providers.whatsapp.transport import JsonAnswer, post_json


def evolution_number(to: str) -> str:
    """Evolution addresses a number by its digits: "+14155550123" -> "14155550123"."""
    return "".join(ch for ch in to if ch.isdigit())


class EvolutionApiClient:
    """One Evolution API instance (a shard). `api_key` is the global key or the instance's own token."""

    name: ProviderName = "evolution"
    supports_templates = False

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        instance: str,
        api_key: str,
        delay_ms: int | None = 1200,
        timeout_seconds: float | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"apikey": api_key}
        self._delay_ms = delay_ms
        self._timeout = timeout_seconds
        self.instance = instance

    async def _post(self, action: str, payload: dict[str, Any], *, idempotency_key: str | None = None) -> JsonAnswer:
        """POST `payload` to `{base_url}/{action}/{instance}` with the instance's API key."""
        return await post_json(
            self._http,
            f"{self._base_url}/{action}/{self.instance}",
            payload,
            headers=self._headers,
            provider=self.name,
            timeout_seconds=self._timeout,
            idempotency_key=idempotency_key,
        )

    async def send_text(self, to: str, body: str, *, idempotency_key: str | None = None) -> SentMessage:
        payload: dict[str, Any] = {"number": evolution_number(to), "text": body}
        if self._delay_ms is not None:
            payload["delay"] = self._delay_ms  # typing simulation before the message goes out
        payload["linkPreview"] = False
        answer = await self._post("message/sendText", payload, idempotency_key=idempotency_key)
        if not 200 <= answer.status < 300:
            raise evolution_error(answer.status, answer.body, retry_after_seconds=parse_retry_after(answer.headers))
        key = answer.body.get("key") if isinstance(answer.body, dict) else None
        message_id = key.get("id") if isinstance(key, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise ProviderConfigError(
                "Evolution API answered 2xx without key.id: is base_url pointing at an Evolution API server?",
                provider=self.name,
                code="malformed_response",
            )
        remote_jid = key.get("remoteJid") if isinstance(key, dict) else None
        recipient = str(remote_jid).split("@", 1)[0] if remote_jid else payload["number"]
        return SentMessage(provider=self.name, provider_message_id=message_id, recipient=recipient)

    async def set_webhook(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        events: Sequence[str] = ("MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE"),
    ) -> None:
        """Point the instance's webhooks at `url` (`POST /webhook/set/{instance}`), with custom `headers` such as
        the shard key header the webhook route verifies."""
        payload = {
            "webhook": {
                "enabled": True,
                "url": url,
                "headers": dict(headers or {}),
                "byEvents": False,
                "base64": False,
                "events": list(events),
            }
        }
        answer = await self._post("webhook/set", payload)
        if not 200 <= answer.status < 300:
            raise evolution_error(answer.status, answer.body)

    async def send_template(
        self,
        to: str,
        template: str,
        language: str,
        body_parameters: Sequence[str] = (),
        *,
        idempotency_key: str | None = None,
    ) -> SentMessage:
        raise ProviderConfigError(
            f"template {template!r} cannot be sent through Evolution (Baileys has no approved templates); "
            "send text instead",
            provider=self.name,
            code="templates_unsupported",
        )

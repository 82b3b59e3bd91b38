"""Meta WhatsApp Cloud API client: `POST {base_url}/{graph_version}/{phone_number_id}/messages`, Bearer token.

Bodies are the Graph API's own (text: `messaging_product, recipient_type, to, type, text{preview_url, body}`;
template: `template{name, language{code}, components[{type: body, parameters[{type: text, text}]}]}`); the answer's
`messages[0].id` (a `wamid.`) is the provider message id. Every send carries the caller's idempotency key as
`biz_opaque_callback_data` (a top-level field of the message object, up to 512 characters), which Meta echoes in
that message's status webhooks: the outbox reconciles an attempt whose answer was lost by it.
`to` is sent as given: Meta accepts E.164 with or without
the leading "+". Point `base_url` at https://graph.facebook.com for the real API or at the sandbox.
"""

from collections.abc import Sequence
from typing import Any

import httpx

from providers.whatsapp.base import ProviderConfigError, ProviderName, SentMessage
from providers.whatsapp.errors import meta_error, parse_retry_after
from providers.whatsapp.transport import post_json


class CloudApiClient:
    """One WhatsApp business phone number on the Cloud API (or the sandbox speaking its wire format)."""

    supports_templates = True
    echoes_callback_data = True  # status webhooks carry `biz_opaque_callback_data` back

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        graph_version: str,
        phone_number_id: str,
        access_token: str,
        timeout_seconds: float | None = None,
        name: ProviderName = "cloud",
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/{graph_version}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._timeout = timeout_seconds
        self.name: ProviderName = name
        self.phone_number_id = phone_number_id

    async def send_text(self, to: str, body: str, *, idempotency_key: str | None = None) -> SentMessage:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        return await self._send(payload, idempotency_key)

    async def send_template(
        self,
        to: str,
        template: str,
        language: str,
        body_parameters: Sequence[str] = (),
        *,
        idempotency_key: str | None = None,
    ) -> SentMessage:
        template_object: dict[str, Any] = {"name": template, "language": {"code": language}}
        if body_parameters:
            template_object["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": value} for value in body_parameters]}
            ]
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": template_object,
        }
        return await self._send(payload, idempotency_key)

    async def _send(self, payload: dict[str, Any], idempotency_key: str | None) -> SentMessage:
        if idempotency_key:
            payload = {**payload, "biz_opaque_callback_data": idempotency_key[:512]}
        answer = await post_json(
            self._http,
            self._url,
            payload,
            headers=self._headers,
            provider=self.name,
            timeout_seconds=self._timeout,
            idempotency_key=idempotency_key,
        )
        if not 200 <= answer.status < 300:
            raise meta_error(
                answer.status, answer.body, provider=self.name, retry_after_seconds=parse_retry_after(answer.headers)
            )
        return _sent_message(self.name, answer.body, fallback_recipient=str(payload["to"]))


def _sent_message(provider: ProviderName, body: Any, *, fallback_recipient: str) -> SentMessage:
    try:
        message_id = body["messages"][0]["id"]
    except (TypeError, KeyError, IndexError):
        message_id = None
    if not isinstance(message_id, str) or not message_id:
        # Accepted but unreadable: retrying could send twice, so this is a configuration problem to look at.
        raise ProviderConfigError(
            "the Graph API answered 2xx without messages[0].id: is base_url pointing at the Graph API?",
            provider=provider,
            code="malformed_response",
        )
    contacts = body.get("contacts") or [{}]
    wa_id = contacts[0].get("wa_id") if isinstance(contacts[0], dict) else None
    recipient = wa_id if isinstance(wa_id, str) and wa_id else fallback_recipient.lstrip("+")
    return SentMessage(provider=provider, provider_message_id=message_id, recipient=recipient)

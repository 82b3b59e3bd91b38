"""The one HTTP call both clients make: POST a JSON body, turn transport failures into retryable errors.

A timeout is retryable, but the provider may have accepted the message before the answer was lost: exactly-once
is the caller's outbox's job (idempotency key per workflow step), not this layer's.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from providers.whatsapp.base import ProviderName, RetryableSendError

# Forwarded on every send. Meta and Evolution ignore it; the sandbox records it next to the message.
IDEMPOTENCY_HEADER = "X-Idempotency-Key"


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    status: int
    body: Any  # decoded JSON, or None when the body is not JSON
    headers: Mapping[str, str]


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    provider: ProviderName,
    timeout_seconds: float | None,
    idempotency_key: str | None,
) -> JsonAnswer:
    all_headers = dict(headers)
    if idempotency_key:
        all_headers[IDEMPOTENCY_HEADER] = idempotency_key
    request_timeout = httpx.Timeout(timeout_seconds) if timeout_seconds is not None else http.timeout
    try:
        response = await http.post(url, json=dict(payload), headers=all_headers, timeout=request_timeout)
    except httpx.TimeoutException as exc:
        raise RetryableSendError(
            f"no answer from {provider} within the timeout ({type(exc).__name__}); the message may have been sent",
            provider=provider,
            code="timeout",
        ) from exc
    except httpx.TransportError as exc:
        raise RetryableSendError(
            f"could not reach {provider} at {url}: {type(exc).__name__}: {exc}",
            provider=provider,
            code="connection_error",
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    return JsonAnswer(status=response.status_code, body=body, headers=response.headers)

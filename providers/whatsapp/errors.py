"""Classification of provider error answers into `ErrorKind` and typed `WhatsAppSendError`s.

Meta: logic keys on `error.code` (never the deprecated `error_subcode`), falling back to the HTTP status for codes
not listed here. The same code table classifies the `errors[]` of a `failed` status webhook. Evolution: errors are
`{status, error, response: {message}}`; a 400 whose message lists `exists: false` means the number is not on
WhatsApp (undeliverable).
"""

from collections.abc import Mapping
from typing import Any, Unpack

from providers.whatsapp.base import ERROR_CLASSES, ErrorKind, ProviderName, SendErrorFields, WhatsAppSendError

# Graph API / WhatsApp Cloud API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
META_ERROR_KINDS: dict[int, ErrorKind] = {
    # Throttling and transient server trouble: retry with backoff.
    4: ErrorKind.RETRYABLE,  # application request limit reached
    80007: ErrorKind.RETRYABLE,  # WABA rate limit
    130429: ErrorKind.RETRYABLE,  # throughput limit
    131056: ErrorKind.RETRYABLE,  # (business, consumer) pair rate limit
    131048: ErrorKind.RETRYABLE,  # spam rate limit
    1: ErrorKind.RETRYABLE,  # API unknown
    2: ErrorKind.RETRYABLE,  # API service temporarily unavailable
    131000: ErrorKind.RETRYABLE,  # something went wrong
    131016: ErrorKind.RETRYABLE,  # service unavailable
    131057: ErrorKind.RETRYABLE,  # account in maintenance mode
    133004: ErrorKind.RETRYABLE,  # server temporarily unavailable
    # The 24-hour customer-service window is closed: only a template may be sent.
    131047: ErrorKind.WINDOW_CLOSED,
    # The recipient stopped marketing messages from this business.
    131050: ErrorKind.OPTED_OUT,
    # The number cannot receive this message.
    131026: ErrorKind.UNDELIVERABLE,
    131049: ErrorKind.UNDELIVERABLE,  # Meta chose not to deliver (ecosystem engagement)
    # Credentials and permissions.
    0: ErrorKind.AUTH,
    3: ErrorKind.AUTH,
    10: ErrorKind.AUTH,
    190: ErrorKind.AUTH,
    131005: ErrorKind.AUTH,
    131031: ErrorKind.AUTH,  # business account locked
    # Configuration: parameters, templates, phone number registration, payment.
    100: ErrorKind.CONFIG,
    131008: ErrorKind.CONFIG,
    131009: ErrorKind.CONFIG,
    131021: ErrorKind.CONFIG,  # recipient cannot be the sender
    131030: ErrorKind.CONFIG,  # recipient not in the test number's allowed list
    131042: ErrorKind.CONFIG,  # payment issue
    131045: ErrorKind.CONFIG,
    132000: ErrorKind.CONFIG,  # template parameter count mismatch
    132001: ErrorKind.CONFIG,  # template does not exist in this language
    132005: ErrorKind.CONFIG,
    132007: ErrorKind.CONFIG,
    132012: ErrorKind.CONFIG,
    132015: ErrorKind.CONFIG,  # template paused
    132016: ErrorKind.CONFIG,  # template disabled
    133010: ErrorKind.CONFIG,  # phone number not registered
    368: ErrorKind.CONFIG,  # temporarily blocked for policy violations
}


def kind_for_http_status(status: int) -> ErrorKind:
    """The kind of an error answer that carries no code this module knows."""
    if status == 429 or status >= 500 or status == 408:
        return ErrorKind.RETRYABLE
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.CONFIG
    return ErrorKind.REJECTED


def kind_for_meta_code(code: int, *, http_status: int | None = None) -> ErrorKind:
    """The kind of a Meta error code, from a sync API error or a `failed` status webhook's `errors[]`."""
    if code in META_ERROR_KINDS:
        return META_ERROR_KINDS[code]
    if 200 <= code <= 299:  # the permission family
        return ErrorKind.AUTH
    return kind_for_http_status(http_status) if http_status is not None else ErrorKind.REJECTED


def make_error(kind: ErrorKind, message: str, **fields: Unpack[SendErrorFields]) -> WhatsAppSendError:
    return ERROR_CLASSES[kind](message, **fields)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare here, let the caller's backoff decide


def meta_error(
    http_status: int, body: Any, *, provider: ProviderName = "cloud", retry_after_seconds: float | None = None
) -> WhatsAppSendError:
    """The typed error for a non-2xx Graph API answer (`body` is the decoded JSON, or None when not JSON)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        kind = kind_for_http_status(http_status)
        return make_error(
            kind,
            f"Graph API answered HTTP {http_status} without an error object",
            provider=provider,
            code=f"http_{http_status}",
            http_status=http_status,
            retry_after_seconds=retry_after_seconds,
        )
    code = int(error["code"])
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return make_error(
        kind_for_meta_code(code, http_status=http_status),
        str(error.get("message") or f"Graph API error {code}"),
        provider=provider,
        code=str(code),
        http_status=http_status,
        retry_after_seconds=retry_after_seconds,
        details=details if isinstance(details, str) else None,
    )


def _evolution_message(body: Any) -> Any:
    response = body.get("response") if isinstance(body, dict) else None
    return response.get("message") if isinstance(response, dict) else None


def is_not_on_whatsapp(body: Any) -> bool:
    """Evolution's 400 for a number without WhatsApp: `response.message` lists `{exists: false, ...}`."""
    message = _evolution_message(body)
    return isinstance(message, list) and any(isinstance(m, dict) and m.get("exists") is False for m in message)


def evolution_error(http_status: int, body: Any, *, retry_after_seconds: float | None = None) -> WhatsAppSendError:
    """The typed error for a non-2xx Evolution API answer (`body` is the decoded JSON, or None)."""
    message = _evolution_message(body)
    text = message if isinstance(message, str) else "; ".join(str(m) for m in message or [])
    if http_status == 400 and is_not_on_whatsapp(body):
        numbers = [str(m.get("number")) for m in message if isinstance(m, dict) and m.get("exists") is False]
        return make_error(
            ErrorKind.UNDELIVERABLE,
            f"number not on WhatsApp: {', '.join(numbers)}",
            provider="evolution",
            code="number_not_on_whatsapp",
            http_status=http_status,
        )
    kind = kind_for_http_status(http_status)
    code = {401: "unauthorized", 403: "forbidden", 404: "instance_not_found"}.get(http_status, f"http_{http_status}")
    return make_error(
        kind,
        text or f"Evolution API answered HTTP {http_status}",
        provider="evolution",
        code=code,
        http_status=http_status,
        retry_after_seconds=retry_after_seconds,
    )

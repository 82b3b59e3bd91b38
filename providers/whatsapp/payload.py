"""Reading a decoded webhook body defensively: every wrong shape is a `WebhookPayloadError` naming the field."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


class WebhookPayloadError(ValueError):
    """The body is not a webhook payload this provider sends."""


def to_e164(digits_or_jid: str) -> str:
    """ "14155550123" or "14155550123@s.whatsapp.net" (or with a ":device" suffix) -> "+14155550123"."""
    user = digits_or_jid.split("@", 1)[0].split(":", 1)[0]
    digits = "".join(ch for ch in user if ch.isdigit())
    if not digits:
        raise WebhookPayloadError(f"not a phone number: {digits_or_jid!r}")
    return "+" + digits


def unix_time(value: Any) -> datetime:
    if isinstance(value, Mapping) and "low" in value:  # protobuf Long as serialised by Baileys
        value = value["low"]
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError) as exc:
        raise WebhookPayloadError(f"not a Unix timestamp: {value!r}") from exc


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"{what} must be an object")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookPayloadError(f"{what} must be a list")
    return value


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

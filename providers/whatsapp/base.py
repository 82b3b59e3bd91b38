"""The WhatsApp provider interface, its result and its error types.

Every provider client (`cloud`, `evolution`, and the sandbox, which speaks the Graph API) implements
`WhatsAppProvider`: an async `send_text` and `send_template` that return the provider's message id or raise a
`WhatsAppSendError`. Each error carries the provider's `code` (a string: Meta codes as digits such as "131047",
otherwise a short name such as "http_500", "timeout", "number_not_on_whatsapp") and an `ErrorKind` that tells the
caller what to do: retry with backoff, fall back to a template, opt the lead out, record the number as
undeliverable, or fix the account's configuration. Clients never retry themselves: Temporal owns retries.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

ProviderName = Literal["cloud", "evolution", "sandbox"]


class ErrorKind(StrEnum):
    """What a failed send means for the caller."""

    RETRYABLE = "retryable"  # throttling, 5xx, timeouts, connection errors: retry with backoff
    WINDOW_CLOSED = "window_closed"  # outside the 24-hour customer-service window: send a template instead
    OPTED_OUT = "opted_out"  # the recipient stopped marketing messages: opt the lead out
    UNDELIVERABLE = "undeliverable"  # the number cannot receive WhatsApp messages: record it, do not retry
    AUTH = "auth"  # token/api key rejected or lacking permission: fix the account credentials
    CONFIG = "config"  # wrong phone number id, instance, template or parameters: fix the configuration
    REJECTED = "rejected"  # any other refusal of this message: do not retry

    @property
    def retryable(self) -> bool:
        return self is ErrorKind.RETRYABLE


class SendErrorFields(TypedDict):
    """What a `WhatsAppSendError` says besides its message (its constructor's keyword arguments)."""

    provider: ProviderName
    code: str
    http_status: NotRequired[int | None]
    retry_after_seconds: NotRequired[float | None]
    details: NotRequired[str | None]


class WhatsAppSendError(Exception):
    """A send the provider did not accept. Subclasses fix `kind` (`class X(WhatsAppSendError, kind=...)`); catch the
    subclass or read `kind`."""

    kind: ErrorKind = ErrorKind.REJECTED

    def __init_subclass__(cls, *, kind: ErrorKind | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.kind = kind

    def __init__(
        self,
        message: str,
        *,
        provider: ProviderName,
        code: str,
        http_status: int | None = None,
        retry_after_seconds: float | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.http_status = http_status
        self.retry_after_seconds = retry_after_seconds
        self.details = details

    @property
    def retryable(self) -> bool:
        return self.kind.retryable

    def __str__(self) -> str:
        status = f" HTTP {self.http_status}" if self.http_status is not None else ""
        return f"{self.provider}{status} [{self.code}/{self.kind.value}]: {self.message}"

    def fields(self) -> SendErrorFields:
        """The keyword arguments that rebuild this error (pickling, or the same error as another kind)."""
        return {
            "provider": self.provider,
            "code": self.code,
            "http_status": self.http_status,
            "retry_after_seconds": self.retry_after_seconds,
            "details": self.details,
        }

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: spell out pickling so the error survives a process boundary.
        return (_rebuild_error, (type(self), self.message, self.fields()))


def _rebuild_error(cls: type[WhatsAppSendError], message: str, fields: SendErrorFields) -> WhatsAppSendError:
    return cls(message, **fields)


class RetryableSendError(WhatsAppSendError, kind=ErrorKind.RETRYABLE): ...


class WindowClosedError(WhatsAppSendError, kind=ErrorKind.WINDOW_CLOSED): ...


class RecipientOptedOutError(WhatsAppSendError, kind=ErrorKind.OPTED_OUT): ...


class UndeliverableError(WhatsAppSendError, kind=ErrorKind.UNDELIVERABLE): ...


class ProviderAuthError(WhatsAppSendError, kind=ErrorKind.AUTH): ...


class ProviderConfigError(WhatsAppSendError, kind=ErrorKind.CONFIG): ...


class SendRejectedError(WhatsAppSendError, kind=ErrorKind.REJECTED): ...


ERROR_CLASSES: dict[ErrorKind, type[WhatsAppSendError]] = {
    ErrorKind.RETRYABLE: RetryableSendError,
    ErrorKind.WINDOW_CLOSED: WindowClosedError,
    ErrorKind.OPTED_OUT: RecipientOptedOutError,
    ErrorKind.UNDELIVERABLE: UndeliverableError,
    ErrorKind.AUTH: ProviderAuthError,
    ErrorKind.CONFIG: ProviderConfigError,
    ErrorKind.REJECTED: SendRejectedError,
}


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A send the provider accepted. `provider_message_id` is what later status webhooks refer to."""

    provider: ProviderName
    provider_message_id: str
    recipient: str  # as the provider echoed it (Meta `wa_id`, Evolution JID user part), digits without "+"


@runtime_checkable
class WhatsAppProvider(Protocol):
    """One WhatsApp account of one tenant. Implementations hold their credentials and a shared HTTP client."""

    name: ProviderName
    supports_templates: bool

    async def send_text(self, to: str, body: str, *, idempotency_key: str | None = None) -> SentMessage:
        """Send free text to `to` (E.164). Raises a `WhatsAppSendError` subclass when not accepted."""
        ...

    async def send_template(
        self,
        to: str,
        template: str,
        language: str,
        body_parameters: Sequence[str] = (),
        *,
        idempotency_key: str | None = None,
    ) -> SentMessage:
        """Send the approved template `template` in `language` (e.g. "en_US") with its body `{{n}}` values."""
        ...

"""Twilio's requests to us, checked: the header they are signed in, and the check against the public URL."""

from collections.abc import Mapping
from dataclasses import dataclass

from channels.voice.accounts import auth_token_of
from core.config import Settings
from models import TelephonyAccount
from providers.twilio.signatures import SIGNATURE_HEADER, public_url, verify_signature

__all__ = ["SIGNATURE_HEADER", "TwilioRequest", "signed_by"]


@dataclass(frozen=True)
class TwilioRequest:
    """What a Twilio request is checked with: the path and query it was sent to, its form, its signature."""

    path: str
    query: str
    params: Mapping[str, str]
    signature: str | None


def signed_by(account: TelephonyAccount, settings: Settings, request: TwilioRequest) -> bool:
    """Whether the account's auth token signed this request for the public URL (never the URL a proxy handed us)."""
    url = public_url(settings.public_base_url, request.path, request.query)
    return verify_signature(auth_token_of(account, settings), url, request.params, request.signature)

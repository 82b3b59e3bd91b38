"""A tenant's telephony account opened for use: its credentials and the Twilio client that serves it."""

import httpx

from core.config import Settings
from core.secret_box import SecretBox
from models import TelephonyAccount
from providers.twilio.voice import TwilioAccountCredentials, TwilioVoice


def auth_token_of(account: TelephonyAccount, settings: Settings) -> str:
    """The token Twilio (or the sandbox, for provider `sandbox` without a token of its own) signs and checks with."""
    token = SecretBox.for_settings(settings).open(account.auth_token)
    if token:
        return token
    if account.provider == "sandbox" and settings.sandbox_allowed:
        return settings.twilio_sandbox_auth_token
    return ""


def credentials_of(account: TelephonyAccount, settings: Settings) -> TwilioAccountCredentials:
    return TwilioAccountCredentials(account_sid=account.account_sid, auth_token=auth_token_of(account, settings))


class VoiceClients:
    """One Twilio client per API base (Twilio, the sandbox), built once per process on the shared HTTP client."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self._http = http
        self._settings = settings
        self._by_base: dict[str, TwilioVoice] = {}

    def for_account(self, account: TelephonyAccount) -> tuple[TwilioVoice, TwilioAccountCredentials]:
        settings = self._settings
        sandbox = account.provider == "sandbox" and settings.sandbox_allowed
        base = settings.sandbox_url() if sandbox else settings.twilio_api_base_url
        voice = self._by_base.get(base)
        if voice is None:
            voice = TwilioVoice(self._http, base_url=base, timeout_seconds=settings.twilio_http_timeout_seconds)
            self._by_base[base] = voice
        return voice, credentials_of(account, settings)

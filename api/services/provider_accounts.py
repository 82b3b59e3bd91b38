"""What the account services of the providers (WhatsApp, telephony) share."""

from core.config import Settings
from core.errors import Unprocessable


def refuse_sandbox_in_prod(provider: str, settings: Settings, *, why: str) -> None:
    """422 for the provider `sandbox` where it is not allowed: its secrets are public, so `why` tells what anyone
    could forge with them and what to choose instead."""
    if provider == "sandbox" and not settings.sandbox_allowed:
        raise Unprocessable(
            f"provider 'sandbox' is refused in production: {why}",
            details=[{"field": "provider", "reason": "sandbox is not available when LEADFLOW_ENV=prod"}],
        )

"""Builds the `WhatsAppProvider` for one tenant's WhatsApp account settings.

`sandbox` is the Cloud API client pointed at the local sandbox (which speaks the Graph API) with the sandbox's
credentials unless the account names its own; `cloud` and `evolution` need their credentials. The HTTP client is
the process's shared one: build providers per call freely, they hold no connections of their own.
"""

from dataclasses import dataclass

import httpx

from core.config import Settings
from providers.whatsapp.base import ProviderConfigError, ProviderName, WhatsAppProvider
from providers.whatsapp.cloud import CloudApiClient
from providers.whatsapp.evolution import EvolutionApiClient


@dataclass(frozen=True, slots=True)
class WhatsAppAccount:
    """What a tenant configured. `base_url` overrides the provider's default (Graph API, sandbox, shard URL)."""

    provider: ProviderName
    phone_number_id: str | None = None  # cloud / sandbox
    access_token: str | None = None  # cloud / sandbox
    instance: str | None = None  # evolution: the shard's instance name
    api_key: str | None = None  # evolution: global key or the instance token
    base_url: str | None = None


def create_provider(http: httpx.AsyncClient, account: WhatsAppAccount, settings: Settings) -> WhatsAppProvider:
    timeout = settings.whatsapp_http_timeout_seconds
    if account.provider == "sandbox":
        if not settings.sandbox_allowed:
            raise ProviderConfigError(
                "provider 'sandbox' is refused in production; switch the tenant's account to 'cloud' or 'evolution'",
                provider="sandbox",
                code="sandbox_in_prod",
            )
        return CloudApiClient(
            http,
            base_url=account.base_url or settings.sandbox_url(),
            graph_version=settings.meta_graph_version,
            phone_number_id=account.phone_number_id or settings.whatsapp_sandbox_phone_number_id,
            access_token=account.access_token or settings.whatsapp_sandbox_access_token,
            timeout_seconds=timeout,
            name="sandbox",
        )
    if account.provider == "cloud":
        if not account.phone_number_id or not account.access_token:
            raise ProviderConfigError(
                "the cloud WhatsApp account needs a phone number id and an access token",
                provider="cloud",
                code="account_incomplete",
            )
        return CloudApiClient(
            http,
            base_url=account.base_url or settings.meta_graph_base_url,
            graph_version=settings.meta_graph_version,
            phone_number_id=account.phone_number_id,
            access_token=account.access_token,
            timeout_seconds=timeout,
        )
    if not account.base_url or not account.instance or not account.api_key:
        raise ProviderConfigError(
            "the evolution WhatsApp account needs a shard base URL, an instance name and an api key",
            provider="evolution",
            code="account_incomplete",
        )
    return EvolutionApiClient(
        http,
        base_url=account.base_url,
        instance=account.instance,
        api_key=account.api_key,
        delay_ms=settings.evolution_send_delay_ms,
        timeout_seconds=timeout,
    )

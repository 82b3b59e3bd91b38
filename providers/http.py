"""The one `httpx.AsyncClient` a process uses for provider calls: build it at startup, share it, close it at exit."""

import httpx

from core.config import Settings


def create_provider_http_client(settings: Settings) -> httpx.AsyncClient:
    # No client-level retries: a send is retried by Temporal, under the caller's idempotency key.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.whatsapp_http_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "leadflow/0.1"},
    )

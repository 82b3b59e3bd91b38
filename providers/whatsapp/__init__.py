"""WhatsApp channel providers behind one interface.

Modules, imported explicitly (this package re-exports nothing, so importing a webhook parser or `signatures` from a
webhook handler does not pull in the HTTP clients):
- `base`: the `WhatsAppProvider` protocol, `SentMessage`, `ErrorKind` and the `WhatsAppSendError` family.
- `errors`: how Meta Graph and Evolution API error answers map onto `ErrorKind`.
- `cloud`: Meta WhatsApp Cloud API client. `evolution`: Evolution API (Baileys) client. `transport`: their one
  HTTP call (timeouts and connection errors become retryable errors). The shared `httpx.AsyncClient` comes from
  `providers.http.create_provider_http_client`, built once per process.
- `factory`: builds the right client for a tenant's account settings (`cloud`, `evolution` or `sandbox`).
- `meta_webhook`, `evolution_webhook`: each provider's webhook wire format parsed into the events of `events`
  (`payload`: reading a decoded body defensively).
- `signatures`: X-Hub-Signature-256, the hub.challenge handshake and the Evolution shard key check.
"""

"""WhatsApp channel providers behind one interface.

Modules, imported explicitly (this package re-exports nothing, so importing `inbound` or `signatures` from a
webhook route does not pull in the HTTP clients):
- `base`: the `WhatsAppProvider` protocol, `SentMessage`, `ErrorKind` and the `WhatsAppSendError` family.
- `errors`: how Meta Graph and Evolution API error answers map onto `ErrorKind`.
- `cloud`: Meta WhatsApp Cloud API client. `evolution`: Evolution API (Baileys) client. `transport`: their one
  HTTP call (timeouts and connection errors become retryable errors). The shared `httpx.AsyncClient` comes from
  `providers.http.create_provider_http_client`, built once per process.
- `factory`: builds the right client for a tenant's account settings (`cloud`, `evolution` or `sandbox`).
- `inbound`: webhook payloads (Meta and Evolution) parsed into normalised events.
- `signatures`: X-Hub-Signature-256, the hub.challenge handshake and the Evolution shard key check.
"""

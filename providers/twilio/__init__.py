"""Twilio Programmable Voice through the official `twilio` package.

Modules, imported explicitly:
- `transport`: the `twilio` REST client's HTTP layer over the process's shared `httpx.AsyncClient`, pointed at the
  configured API base URL (Twilio, or the provider sandbox).
- `voice`: place, update, fetch and list calls (`TwilioVoice`), errors typed as retryable or not.
- `signatures`: `X-Twilio-Signature` checks with `RequestValidator` against the public URL of the request.
- `callbacks`: Twilio's form callbacks (status, async AMD, Gather, inbound voice) parsed into typed events.
"""

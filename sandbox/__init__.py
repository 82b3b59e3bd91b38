"""The local provider sandbox: a real HTTP server speaking the WhatsApp Cloud (Graph) and Evolution API formats.

It is the embedded default provider (the dev stack points the demo tenant at it) and the test suite's double:
it checks credentials, records every accepted send (inspectable over HTTP), injects faults on demand (429, 500,
timeouts, Meta error codes, dropped webhooks) and delivers correctly signed inbound and status webhooks. All state
lives in memory in one process: restart or `POST /_sandbox/reset` to clear it. Run: `python -m sandbox --port N`.
"""

"""Webhook authenticity: Meta's X-Hub-Signature-256 and hub.challenge handshake, Evolution's shard key.

Meta signs the exact raw request bytes with the app secret (HMAC-SHA256, lowercase hex, `sha256=` prefix): verify
the bytes as received, never re-serialised JSON. Evolution sends no signature; a shard proves itself by a secret it
was configured with, either as a custom header (`x-leadflow-shard-key`, set through `webhook/set`) or the body's
`apikey` field (the instance token). Every comparison is constant-time.
"""

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
EVOLUTION_SHARD_KEY_HEADER = "x-leadflow-shard-key"


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def compute_signature(app_secret: str, raw_body: bytes) -> str:
    """The `X-Hub-Signature-256` header value Meta sends for `raw_body`."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(app_secret: str, raw_body: bytes, header_value: str | None) -> bool:
    """True only when `header_value` is the signature of exactly `raw_body` under `app_secret`."""
    if not app_secret or not header_value:
        return False
    presented = header_value.strip()
    if not presented.lower().startswith(SIGNATURE_PREFIX):
        return False
    expected = compute_signature(app_secret, raw_body)
    return _equal(SIGNATURE_PREFIX + presented[len(SIGNATURE_PREFIX) :].lower(), expected)


def answer_verification_challenge(query: Mapping[str, str], verify_token: str) -> str | None:
    """The GET handshake: the bare `hub.challenge` to answer with 200, or None (answer 403) when it does not match.

    Meta sends `hub.mode=subscribe`, `hub.verify_token=<the token configured in the app>` and `hub.challenge`.
    """
    mode = query.get("hub.mode")
    token = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if mode != "subscribe" or not token or not challenge or not verify_token:
        return None
    return challenge if _equal(token, verify_token) else None


def verify_evolution_key(expected_key: str, *, header_value: str | None = None, body_apikey: str | None = None) -> bool:
    """True when the shard's configured key came either as the custom header or as the body's `apikey` field."""
    if not expected_key:
        return False
    presented = [value for value in (header_value, body_apikey) if isinstance(value, str) and value]
    # Evaluate every candidate so the time taken does not tell which one was tried.
    matches = [_equal(value, expected_key) for value in presented]
    return any(matches)

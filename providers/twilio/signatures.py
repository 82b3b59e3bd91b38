"""`X-Twilio-Signature`: Twilio signs the full URL it requested plus the sorted form parameters with the auth token.

The URL to check is the public one Twilio called (`LEADFLOW_PUBLIC_BASE_URL` + the request's path and query), never
the URL a proxy handed the application (another scheme, host or port would fail every valid callback and could
be chosen by whoever reaches the app directly). `RequestValidator` does the computing and the constant-time compare.
"""

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_url(public_base_url: str, path: str, query: str) -> str:
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def verify_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))

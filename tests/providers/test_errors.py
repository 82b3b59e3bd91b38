"""Provider error answers map onto the kind that tells the caller what to do."""

import pickle

import pytest

from providers.whatsapp.base import (
    ErrorKind,
    ProviderAuthError,
    RecipientOptedOutError,
    RetryableSendError,
    UndeliverableError,
    WhatsAppSendError,
    WindowClosedError,
)
from providers.whatsapp.errors import evolution_error, meta_error
from tests.fixtures.sandbox import load_fixture


@pytest.mark.parametrize(
    ("fixture", "kind", "cls"),
    [
        ("meta/error_130429_rate_limit.json", ErrorKind.RETRYABLE, RetryableSendError),
        ("meta/error_131056_pair_rate_limit.json", ErrorKind.RETRYABLE, RetryableSendError),
        ("meta/error_131047_reengagement.json", ErrorKind.WINDOW_CLOSED, WindowClosedError),
        ("meta/error_131050_marketing_opt_out.json", ErrorKind.OPTED_OUT, RecipientOptedOutError),
        ("meta/error_131026_undeliverable.json", ErrorKind.UNDELIVERABLE, UndeliverableError),
    ],
)
def test_meta_error_fixtures(fixture: str, kind: ErrorKind, cls: type[WhatsAppSendError]) -> None:
    body = load_fixture(fixture)
    error = meta_error(400, body)
    assert isinstance(error, cls)
    assert (error.kind, error.code, error.http_status) == (kind, str(body["error"]["code"]), 400)
    assert error.message == body["error"]["message"]
    assert error.details == body["error"]["error_data"]["details"]
    assert error.retryable is (kind is ErrorKind.RETRYABLE)


def test_meta_codes_win_over_http_status_and_unknown_codes_fall_back_to_it() -> None:
    assert meta_error(401, {"error": {"code": 190, "message": "expired"}}).kind is ErrorKind.AUTH
    assert meta_error(403, {"error": {"code": 200, "message": "permission"}}).kind is ErrorKind.AUTH
    assert meta_error(400, {"error": {"code": 132001, "message": "no template"}}).kind is ErrorKind.CONFIG
    assert meta_error(500, {"error": {"code": 999999, "message": "?"}}).kind is ErrorKind.RETRYABLE
    assert meta_error(400, {"error": {"code": 999999, "message": "?"}}).kind is ErrorKind.REJECTED
    bare = meta_error(502, None)
    assert (bare.kind, bare.code) == (ErrorKind.RETRYABLE, "http_502")
    assert meta_error(429, "Too Many Requests", retry_after_seconds=2.0).retry_after_seconds == 2.0


def test_evolution_error_fixtures() -> None:
    not_on_whatsapp = evolution_error(400, load_fixture("evolution/error_400_number_not_on_whatsapp.json"))
    assert isinstance(not_on_whatsapp, UndeliverableError)
    assert not_on_whatsapp.code == "number_not_on_whatsapp"
    assert "14155550199" in not_on_whatsapp.message

    unauthorized = evolution_error(401, load_fixture("evolution/error_401_unauthorized.json"))
    assert isinstance(unauthorized, ProviderAuthError)
    assert (unauthorized.code, unauthorized.message) == ("unauthorized", "Unauthorized")

    missing = {"status": 404, "error": "Not Found", "response": {"message": ['The "x" instance does not exist']}}
    assert evolution_error(404, missing).kind is ErrorKind.CONFIG
    assert evolution_error(500, {"status": 500, "response": {"message": "Connection Closed"}}).retryable
    assert evolution_error(400, {"status": 400, "response": {"message": ["text is required"]}}).kind is (
        ErrorKind.REJECTED
    )


def test_errors_survive_pickling_with_their_fields() -> None:
    error = meta_error(400, load_fixture("meta/error_131047_reengagement.json"))
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, WindowClosedError)
    assert (copy.code, copy.kind, copy.http_status, copy.details) == (
        "131047",
        ErrorKind.WINDOW_CLOSED,
        400,
        error.details,
    )

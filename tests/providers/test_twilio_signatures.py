"""X-Twilio-Signature: the documented example computes to its published value, and the checks refuse changes."""

from providers.twilio.signatures import compute_signature, public_url, verify_signature
from tests.fixtures.sandbox import load_fixture


def test_the_documented_example_computes_to_its_published_signature() -> None:
    example = load_fixture("twilio/signature_example.json")

    computed = compute_signature(example["auth_token"], example["url"], example["params"])

    assert computed == example["expected_header_value"]
    assert verify_signature(example["auth_token"], example["url"], example["params"], computed)


def test_a_changed_parameter_url_or_token_fails_the_check() -> None:
    example = load_fixture("twilio/signature_example.json")
    token, url, params, signature = (
        example["auth_token"],
        example["url"],
        example["params"],
        example["expected_header_value"],
    )

    assert not verify_signature(token, url, {**params, "CallDuration": "128"}, signature)
    assert not verify_signature(token, url.replace("acme", "other"), params, signature)
    assert not verify_signature(token + "x", url, params, signature)
    assert not verify_signature(token, url, params, None)


def test_the_public_url_is_built_from_the_configured_base_not_the_request() -> None:
    assert (
        public_url("https://crm.example.com/", "/webhooks/twilio/status", "tenant=acme")
        == "https://crm.example.com/webhooks/twilio/status?tenant=acme"
    )

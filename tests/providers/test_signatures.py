"""X-Hub-Signature-256, the hub.challenge handshake and the Evolution shard key."""

from providers.whatsapp.signatures import (
    answer_verification_challenge,
    compute_signature,
    verify_evolution_key,
    verify_signature,
)
from tests.fixtures.sandbox import load_fixture


def test_worked_example_from_the_fixtures_verifies() -> None:
    example = load_fixture("meta/signature_example.json")
    raw = example["raw_body"].encode("utf-8")

    assert compute_signature(example["app_secret"], raw) == example["expected_header_value"]
    assert verify_signature(example["app_secret"], raw, example["expected_header_value"])


def test_one_changed_byte_wrong_secret_or_missing_header_fail() -> None:
    example = load_fixture("meta/signature_example.json")
    raw = example["raw_body"].encode("utf-8")
    header = example["expected_header_value"]

    assert not verify_signature(example["app_secret"], raw.replace(b'"Hi"', b'"Hl"'), header)
    assert not verify_signature(example["app_secret"], raw + b"\n", header)
    assert not verify_signature("another_secret", raw, header)
    assert not verify_signature(example["app_secret"], raw, None)
    assert not verify_signature(example["app_secret"], raw, "")
    assert not verify_signature(example["app_secret"], raw, header.removeprefix("sha256="))
    assert not verify_signature("", raw, header)


def test_header_hex_case_does_not_matter() -> None:
    example = load_fixture("meta/signature_example.json")
    raw = example["raw_body"].encode("utf-8")
    upper = "sha256=" + example["expected_header_value"].removeprefix("sha256=").upper()

    assert verify_signature(example["app_secret"], raw, upper)


def test_signature_is_over_raw_bytes_not_reserialised_json() -> None:
    raw = '{"text":"Olá \\u00e9"}'.encode()  # Meta escapes non-ASCII; re-serialising would change the bytes
    header = compute_signature("s3cret", raw)

    assert verify_signature("s3cret", raw, header)
    assert not verify_signature("s3cret", '{"text":"Olá é"}'.encode(), header)


def test_handshake_answers_the_challenge_only_for_the_right_token() -> None:
    example = load_fixture("meta/webhook_verification_get.json")
    query = example["request"]["query"]
    token = query["hub.verify_token"]

    assert answer_verification_challenge(query, token) == example["expected_response_when_token_matches"]["body"]
    assert answer_verification_challenge(query, "other-token") is None
    assert answer_verification_challenge({**query, "hub.mode": "unsubscribe"}, token) is None
    assert answer_verification_challenge({"hub.mode": "subscribe", "hub.challenge": "1"}, token) is None
    assert answer_verification_challenge(query, "") is None


def test_evolution_key_from_header_or_body() -> None:
    payload = load_fixture("evolution/webhook_messages_upsert_text.json")
    shard_key = load_fixture("evolution/webhook_set_request.json")["webhook"]["headers"]["x-leadflow-shard-key"]

    assert verify_evolution_key(payload["apikey"], body_apikey=payload["apikey"])
    assert verify_evolution_key(shard_key, header_value=shard_key, body_apikey=None)
    assert verify_evolution_key(shard_key, header_value="wrong", body_apikey=shard_key)
    assert not verify_evolution_key(shard_key, header_value="wrong", body_apikey="also-wrong")
    assert not verify_evolution_key(shard_key)
    assert not verify_evolution_key("", header_value="", body_apikey="")

"""Provider credentials at rest: sealed values open only with the configured key (or a listed fallback)."""

import pytest

from core.config import Settings
from core.secret_box import PREFIX, SecretBox, SecretUnreadable


def test_a_sealed_value_opens_and_does_not_show_the_secret() -> None:
    box = SecretBox(["key-one"])
    sealed = box.seal("EAAG-token-value")
    assert sealed is not None and sealed.startswith(PREFIX)
    assert "EAAG-token-value" not in sealed
    assert box.open(sealed) == "EAAG-token-value"
    assert box.seal("EAAG-token-value") != sealed  # a fresh IV each time: equal secrets do not look equal
    assert box.seal(None) is None and box.open(None) is None


def test_a_value_stored_before_sealing_reads_as_it_is_and_reseals() -> None:
    box = SecretBox(["key-one"])
    assert box.open("plain-old-token") == "plain-old-token"
    resealed = box.reseal("plain-old-token")
    assert resealed is not None and resealed.startswith(PREFIX) and box.open(resealed) == "plain-old-token"


def test_rotation_old_values_open_through_the_fallback_and_reseal_under_the_new_key() -> None:
    old = SecretBox(["old-key"])
    sealed = old.seal("app-secret")
    with pytest.raises(SecretUnreadable, match="LEADFLOW_SECRET_KEY_FALLBACKS"):
        SecretBox(["new-key"]).open(sealed)
    rotated = SecretBox(["new-key", "old-key"])
    assert rotated.open(sealed) == "app-secret"
    resealed = rotated.reseal(sealed)
    assert SecretBox(["new-key"]).open(resealed) == "app-secret"


def test_a_tampered_value_is_refused() -> None:
    box = SecretBox(["key-one"])
    sealed = box.seal("app-secret")
    assert sealed is not None
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretUnreadable):
        box.open(tampered)


def test_the_box_follows_the_settings() -> None:
    settings = Settings(secret_key="current", secret_key_fallbacks=["previous"])
    sealed = SecretBox(["previous"]).seal("token")
    assert SecretBox.for_settings(settings).open(sealed) == "token"
    with pytest.raises(ValueError):
        SecretBox([""])

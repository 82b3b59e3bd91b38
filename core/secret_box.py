"""Secrets at rest: provider credentials a tenant hands us are stored encrypted, never as they were given.

`SecretBox` seals a value with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from `LEADFLOW_SECRET_KEY`
(HKDF-SHA256, its own `info` so the derived key is used for nothing else). A stored value reads `enc:v1:<token>`.
Rotation: set the new `LEADFLOW_SECRET_KEY` and list the old one in `LEADFLOW_SECRET_KEY_FALLBACKS`; values sealed
under any of them open, new seals use the first, and `scripts/reseal_secrets.py` re-seals every stored value under
the first.
A value without the prefix was stored before encryption existed and reads as it is (the migration seals it).
"""

import base64
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.config import Settings

PREFIX = "enc:v1:"
_INFO = b"leadflow provider credentials at rest v1"


class SecretUnreadable(Exception):
    """A stored secret was sealed under a key that is neither LEADFLOW_SECRET_KEY nor one of its fallbacks."""


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys or not all(keys):
            raise ValueError("a SecretBox needs at least one non-empty key")
        self._fernet = MultiFernet([_fernet(key) for key in keys])

    @classmethod
    def for_settings(cls, settings: Settings) -> "SecretBox":
        return _box(settings.secret_key, tuple(settings.secret_key_fallbacks))

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return PREFIX + self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, stored: str | None) -> str | None:
        if stored is None or not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise SecretUnreadable(
                "a stored credential was sealed under another LEADFLOW_SECRET_KEY; list that key in "
                "LEADFLOW_SECRET_KEY_FALLBACKS or enter the credential again"
            ) from None

    def reseal(self, stored: str | None) -> str | None:
        """The value sealed under the current key (plaintext rows get sealed); None stays None."""
        if stored is None:
            return None
        if not stored.startswith(PREFIX):
            return self.seal(stored)
        try:
            return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise SecretUnreadable("a stored credential was sealed under an unknown LEADFLOW_SECRET_KEY") from None


@lru_cache(maxsize=8)
def _box(secret_key: str, fallbacks: tuple[str, ...]) -> SecretBox:
    return SecretBox([secret_key, *fallbacks])

"""Personal data out of Temporal's history: every payload (workflow and activity inputs and results, signals,
updates, queries, memos) and every failure's message and stack trace is encrypted before it leaves the process.

AES-256-GCM with a fresh 96-bit nonce per payload; the key is derived from `LEADFLOW_SECRET_KEY` (HKDF-SHA256 with its
own `info`, so it serves nothing else) and named in the payload's metadata (`encryption-key-id`, a digest of the key,
never the key). Rotation as for the sealed credentials: the new secret in `LEADFLOW_SECRET_KEY`, the old ones in
`LEADFLOW_SECRET_KEY_FALLBACKS`; new payloads use the first, payloads under any of them decode, so running workflows
and their replays go on. A payload without this codec's encoding (histories recorded before it, or by a client
without it) passes through as it is.

Search attributes are not payloads the codec sees: they hold ids and statuses only, never personal data. The Temporal
Web UI shows decoded payloads through the API's `/codec/decode` (api/routes/codec.py), to system admins only.
"""

import base64
import dataclasses
import hashlib
import os
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from core.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_INFO = b"leadflow temporal payloads v1"
_NONCE_BYTES = 12


class UnknownPayloadKey(ValueError):
    """A payload encrypted under a key this process does not have (a secret dropped from the fallbacks too early)."""


def _derive(secret: str) -> tuple[str, AESGCM]:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
    key_id = base64.urlsafe_b64encode(hashlib.sha256(key).digest()[:9]).decode()
    return key_id, AESGCM(key)


class EncryptionCodec(PayloadCodec):
    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("the payload codec needs at least one secret")
        keys = [_derive(secret) for secret in secrets]
        self.key_id, self._cipher = keys[0]
        self._ciphers = dict(keys)

    @classmethod
    def for_settings(cls, settings: Settings) -> "EncryptionCodec":
        return cls([settings.secret_key, *settings.secret_key_fallbacks])

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = self._cipher.encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # recorded before the codec, or by a client without it
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise UnknownPayloadKey(
                    f"payload encrypted under key {key_id!r}, which none of LEADFLOW_SECRET_KEY and its fallbacks "
                    "derive: put the secret it was made with back into LEADFLOW_SECRET_KEY_FALLBACKS"
                )
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            decoded.append(Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode())))
        return decoded


class MalformedPayloads(ValueError):
    """A remote-codec request body that is not a JSON list of payloads."""


async def decode_json(codec: EncryptionCodec, body: bytes) -> dict[str, Any]:
    """The remote-codec protocol of the Temporal Web UI: `{"payloads": [...]}` in, the same decoded out."""
    try:
        payloads = json_format.Parse(body, Payloads())
    except json_format.ParseError as exc:
        raise MalformedPayloads(f"not a list of Temporal payloads: {exc}") from None
    decoded = await codec.decode(list(payloads.payloads))
    return json_format.MessageToDict(Payloads(payloads=decoded))


def data_converter(settings: Settings) -> DataConverter:
    """The data converter every Temporal client of Leadflow uses: pydantic values, encrypted payloads and failures."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec.for_settings(settings),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )

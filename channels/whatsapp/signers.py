"""Which tenant a WhatsApp Cloud phone number id belongs to and the app secret that signs its webhooks, remembered by
an API process for a few seconds (`LEADFLOW_WHATSAPP_SIGNER_CACHE_SECONDS`), so a burst of deliveries verifies without
reading the account for each one.

Only a secret that verified a delivery is remembered: a forged signature never fills it. A signature the remembered
secret does not verify is checked against the account again, so a rotated secret verifies at once; the replaced one
keeps verifying until its entry expires. Entries are per phone number id of a real account: the map stays as small
as the accounts that deliver.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from providers.whatsapp.signatures import verify_signature


@dataclass(frozen=True, slots=True)
class _Signer:
    tenant_id: uuid.UUID
    app_secret: str
    until: float


class SignerCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._signers: dict[str, _Signer] = {}

    def tenant_verified(self, phone_number_id: str, raw_body: bytes, signature: str) -> uuid.UUID | None:
        """The tenant of `phone_number_id` when its remembered, unexpired secret verifies the delivery; else None."""
        signer = self._signers.get(phone_number_id)
        if signer is None:
            return None
        if signer.until <= self._clock():
            del self._signers[phone_number_id]
            return None
        return signer.tenant_id if verify_signature(signer.app_secret, raw_body, signature) else None

    def remember(self, phone_number_id: str, tenant_id: uuid.UUID, app_secret: str) -> None:
        """The secret that just verified a delivery of `phone_number_id`, read from its account."""
        if self._ttl > 0:
            self._signers[phone_number_id] = _Signer(tenant_id, app_secret, self._clock() + self._ttl)

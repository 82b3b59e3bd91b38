"""Which tenant a WhatsApp Cloud phone number id belongs to and the app secret that signs its webhooks, remembered by
an API process for a few seconds (`LEADFLOW_WHATSAPP_SIGNER_CACHE_SECONDS`), so a burst of deliveries verifies without
reading the account for each one.

Only a secret that verified a delivery is remembered: a forged signature never fills it. A signature the remembered
secret does not verify is checked against the account again, so a rotated secret verifies at once; the replaced one
keeps verifying until its entry expires. A tenant's account changed through this process is forgotten at once (its
old and new phone number ids); other API processes keep what they remember until it expires, so for at most the
cache time a number moved to another tenant's account can still be credited to the tenant that had it. Entries are
per phone number id of a real account: the map stays as small as the accounts that deliver.
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
    read_at: float  # when the account was read: a slower read of an older state never replaces a newer one
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

    def reading(self) -> float:
        """The time to pass to `remember` for an account read that starts now."""
        return self._clock()

    def remember(self, phone_number_id: str, tenant_id: uuid.UUID, app_secret: str, *, read_at: float) -> None:
        """The secret that just verified a delivery of `phone_number_id`, read from its account at `read_at`."""
        if self._ttl <= 0:
            return
        known = self._signers.get(phone_number_id)
        if known is not None and known.read_at > read_at:
            return  # a newer read already answered for this number
        self._signers[phone_number_id] = _Signer(tenant_id, app_secret, read_at, self._clock() + self._ttl)

    def forget_tenant(self, tenant_id: uuid.UUID, *phone_number_ids: str | None) -> None:
        """Drop what is remembered for `tenant_id`'s numbers and for `phone_number_ids` (its account changed)."""
        for number_id, signer in list(self._signers.items()):
            if signer.tenant_id == tenant_id or number_id in phone_number_ids:
                del self._signers[number_id]

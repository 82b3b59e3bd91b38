"""The app secrets an API process remembers from verified WhatsApp Cloud deliveries (channels/whatsapp/signers.py)."""

import uuid

from channels.whatsapp.signers import SignerCache
from tests.fixtures.whatsapp import sign

BODY = b'{"object":"whatsapp_business_account"}'
NUMBER = "109876543210987"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_remembered_secret_verifies_until_it_expires() -> None:
    clock, tenant = Clock(), uuid.uuid4()
    signers = SignerCache(5.0, clock=clock)
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None  # nothing remembered yet

    signers.remember(NUMBER, tenant, "secret")
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) == tenant
    assert signers.tenant_verified(NUMBER, BODY, sign("another secret", BODY)) is None
    assert signers.tenant_verified(NUMBER, BODY + b" ", sign("secret", BODY)) is None
    assert signers.tenant_verified("another number", BODY, sign("secret", BODY)) is None

    clock.now += 5.0
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None  # read from the account again


def test_a_cache_time_of_zero_remembers_nothing() -> None:
    signers = SignerCache(0.0, clock=Clock())
    signers.remember(NUMBER, uuid.uuid4(), "secret")
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None

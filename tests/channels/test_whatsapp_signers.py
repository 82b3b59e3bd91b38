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

    signers.remember(NUMBER, tenant, "secret", read_at=signers.reading())
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) == tenant
    assert signers.tenant_verified(NUMBER, BODY, sign("another secret", BODY)) is None
    assert signers.tenant_verified(NUMBER, BODY + b" ", sign("secret", BODY)) is None
    assert signers.tenant_verified("another number", BODY, sign("secret", BODY)) is None

    clock.now += 5.0
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None  # read from the account again


def test_a_cache_time_of_zero_remembers_nothing() -> None:
    signers = SignerCache(0.0, clock=Clock())
    signers.remember(NUMBER, uuid.uuid4(), "secret", read_at=0.0)
    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None


def test_a_slower_read_of_the_account_never_replaces_a_newer_one() -> None:
    clock, tenant = Clock(), uuid.uuid4()
    signers = SignerCache(5.0, clock=clock)
    before_rotation = signers.reading()
    clock.now += 0.1
    signers.remember(NUMBER, tenant, "rotated", read_at=signers.reading())
    signers.remember(NUMBER, tenant, "replaced", read_at=before_rotation)  # that read finished last
    assert signers.tenant_verified(NUMBER, BODY, sign("rotated", BODY)) == tenant
    assert signers.tenant_verified(NUMBER, BODY, sign("replaced", BODY)) is None


def test_a_changed_account_is_forgotten_with_the_number_it_takes() -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    signers = SignerCache(5.0, clock=Clock())
    signers.remember(NUMBER, ours, "secret", read_at=signers.reading())
    signers.remember("222", theirs, "secret", read_at=signers.reading())
    signers.remember("333", theirs, "secret", read_at=signers.reading())

    signers.forget_tenant(ours, "333")  # our account changed and now has number 333

    assert signers.tenant_verified(NUMBER, BODY, sign("secret", BODY)) is None
    assert signers.tenant_verified("333", BODY, sign("secret", BODY)) is None
    assert signers.tenant_verified("222", BODY, sign("secret", BODY)) == theirs

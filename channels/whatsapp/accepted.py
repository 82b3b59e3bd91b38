"""Provider-accepted sends kept in Redis until their outbox row holds them.

Once the provider answered a send with its message id, that id is the only proof the message went out. The outbox
row in PostgreSQL is where it belongs, but PostgreSQL may be unreachable at that moment: the sender writes the id
here first (keyed by the send's idempotency key), then stores it in the row, then forgets it here. A re-run that
finds its row still `sending` asks here before anything may decide to send again (channels/whatsapp/outbox.py).
"""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys

log = logging.getLogger(__name__)

# Far beyond anything that re-runs a send (the reconcile window, a sequence step's hours of retries): an entry the
# row never took must still answer the last re-run. Entries the row took are deleted at once.
ACCEPTED_SEND_TTL = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class AcceptedSend:
    provider: str
    provider_message_id: str


class AcceptedSends:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def _key(self, idempotency_key: str) -> str:
        return self._keys("wa", "accepted", idempotency_key)

    async def remember(self, *, idempotency_key: str, accepted: AcceptedSend) -> bool:
        """Keep the provider's answer; False when Redis cannot take it (the caller then relies on the row alone)."""
        value = json.dumps({"provider": accepted.provider, "provider_message_id": accepted.provider_message_id})
        try:
            await self._redis.set(self._key(idempotency_key), value, ex=ACCEPTED_SEND_TTL)
        except RedisError as exc:
            log.error("send %s: the provider's message id could not be kept in Redis: %s", idempotency_key, exc)
            return False
        return True

    async def recall(self, *, idempotency_key: str) -> AcceptedSend | None:
        """The provider's answer to an earlier attempt whose row never got it. Redis errors propagate: without an
        answer here, nobody can tell whether sending again would be a second message."""
        raw = await self._redis.get(self._key(idempotency_key))
        if raw is None:
            return None
        stored = json.loads(raw)
        return AcceptedSend(provider=stored["provider"], provider_message_id=stored["provider_message_id"])

    async def forget(self, *, idempotency_key: str) -> None:
        """The row holds the answer now; a leftover entry would only expire later."""
        try:
            await self._redis.delete(self._key(idempotency_key))
        except RedisError as exc:
            log.warning("send %s: stored, but its Redis entry stays until it expires: %s", idempotency_key, exc)

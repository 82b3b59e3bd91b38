"""Redis client factory and key naming (every key carries the configured prefix)."""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.config import Settings


def create_redis(settings: Settings) -> Redis:
    """The process's Redis client; its connections are named after the key prefix, so `CLIENT LIST` tells apart the
    deployments (and test runs) sharing one server.

    A pooled connection the server closed (Redis restarted, an idle timeout, a failover) fails only when next used:
    each command is retried once on a fresh connection, so the first request after a restart does not fail.
    """
    return Redis.from_url(
        settings.require_redis_url(),
        decode_responses=True,
        client_name=_client_name(settings.redis_prefix),
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def _client_name(prefix: str) -> str:
    # Redis refuses a connection name with spaces or characters outside printable ASCII (and with it the connection).
    return "".join(ch if "!" <= ch <= "~" else "_" for ch in prefix) or "leadflow"


class Keys:
    """Builds namespaced Redis keys so several deployments or test runs can share one server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

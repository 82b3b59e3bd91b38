"""Redis client factory and key naming (every key carries the configured prefix)."""

from redis.asyncio import Redis

from core.config import Settings


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(settings.require_redis_url(), decode_responses=True)


class Keys:
    """Builds namespaced Redis keys so several deployments or test runs can share one server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

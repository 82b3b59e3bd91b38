"""Login rate limit in Redis: failed attempts counted per account and per client IP in a fixed window.

The window starts at the first failure and lasts `login_window_seconds`. Once a counter reaches its maximum, every
login for that account (or from that IP) answers 429 with `Retry-After` until the window ends — even with the right
password, so guessing cannot continue by luck. A successful login clears the account's counter, not the IP's: one
valid account must not let an attacker reset the counter while trying others. Accounts are keyed by a digest of the
lower-cased e-mail, known or not, so a locked unknown address looks exactly like a locked real one.
"""

from dataclasses import dataclass

from redis.asyncio import Redis

from core.errors import TooManyRequests
from core.redis import Keys
from core.security import token_digest


@dataclass(frozen=True)
class LoginLimits:
    max_failures_per_account: int
    max_failures_per_ip: int
    window_seconds: int


class LoginRateLimiter:
    def __init__(self, redis: Redis, keys: Keys, limits: LoginLimits) -> None:
        self.redis = redis
        self.keys = keys
        self.limits = limits

    def _account_key(self, email: str) -> str:
        return self.keys("login_failures", "account", token_digest(email.strip().lower()))

    def _ip_key(self, ip: str) -> str:
        return self.keys("login_failures", "ip", ip)

    async def check(self, *, email: str, ip: str) -> None:
        """Raise 429 (with Retry-After) when the account or the IP has used up its failures."""
        account, by_ip = self._account_key(email), self._ip_key(ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(account)
            pipe.ttl(account)
            pipe.get(by_ip)
            pipe.ttl(by_ip)
            account_count, account_ttl, ip_count, ip_ttl = await pipe.execute()
        blocked: list[tuple[str, int]] = []
        if int(account_count or 0) >= self.limits.max_failures_per_account:
            blocked.append(("this account", account_ttl))
        if int(ip_count or 0) >= self.limits.max_failures_per_ip:
            blocked.append(("your address", ip_ttl))
        if not blocked:
            return
        who, ttl = max(blocked, key=lambda b: b[1])
        retry_after = max(int(ttl), 1)  # a key without TTL (-1) cannot happen, but never answer "retry in 0"
        raise TooManyRequests(
            f"too many failed logins for {who}; try again in {retry_after} seconds",
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )

    async def record_failure(self, *, email: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._account_key(email), self._ip_key(ip)):
                pipe.incr(key)
                # NX: the window starts at the first failure and is not extended by later ones.
                pipe.expire(key, self.limits.window_seconds, nx=True)
            await pipe.execute()

    async def record_success(self, *, email: str) -> None:
        await self.redis.delete(self._account_key(email))

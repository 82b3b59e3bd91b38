"""Login rate limit in Redis: failed attempts counted per account and per client IP in a fixed window.

The window starts at the first failure and lasts `login_window_seconds`. Once a counter has reached its maximum,
every login for that account (or from that IP) answers 429 with `Retry-After` until the window ends — even with the
right password, so guessing cannot continue by luck. A successful login clears the account's counter, not the IP's:
one valid account must not let an attacker reset the counter while trying others. Accounts are keyed by a digest of
the lower-cased e-mail, known or not, so a locked unknown address looks exactly like a locked real one.

Each attempt is counted as a failure *before* the password is checked and taken back if it succeeds: parallel
guesses each get their own count, so a burst cannot slip more than the maximum past the limit.
"""

from dataclasses import dataclass

from redis.asyncio import Redis

from api.metrics import RATE_LIMIT_REFUSALS
from core.errors import TooManyRequests
from core.redis import Keys
from core.security import token_digest

# Take back one provisional failure, unless the window has ended meanwhile (a DECR would recreate the key forever).
_TAKE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class LoginLimits:
    max_failures_per_account: int
    max_failures_per_ip: int
    window_seconds: int


@dataclass
class LoginRateLimiter:
    redis: Redis
    keys: Keys
    limits: LoginLimits

    def _account_key(self, email: str) -> str:
        return self.keys("login_failures", "account", token_digest(email.strip().lower()))

    def _ip_key(self, ip: str) -> str:
        return self.keys("login_failures", "ip", ip)

    async def _take_back(self, key: str) -> None:
        await self.redis.eval(_TAKE_BACK, 1, key)  # type: ignore[misc]

    async def begin_attempt(self, *, email: str, ip: str) -> None:
        """Count this attempt as a failure until `succeeded`; 429 (with Retry-After) when a limit is used up."""
        account, by_ip = self._account_key(email), self._ip_key(ip)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (account, by_ip):
                pipe.incr(key)
                # NX: the window starts at the first failure and is not extended by later ones.
                pipe.expire(key, self.limits.window_seconds, nx=True)
                pipe.ttl(key)
            account_count, _, account_ttl, ip_count, _, ip_ttl = await pipe.execute()
        blocked: list[tuple[str, int]] = []
        if account_count > self.limits.max_failures_per_account:
            blocked.append(("this account", account_ttl))
        if ip_count > self.limits.max_failures_per_ip:
            blocked.append(("your address", ip_ttl))
        if not blocked:
            return
        # A refused attempt was no guess: it does not count.
        await self._take_back(account)
        await self._take_back(by_ip)
        who, ttl = max(blocked, key=lambda b: b[1])
        retry_after = max(int(ttl), 1)
        RATE_LIMIT_REFUSALS.labels("login").inc()
        raise TooManyRequests(
            f"too many failed logins for {who}; try again in {retry_after} seconds",
            details={"retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )

    async def succeeded(self, *, email: str, ip: str) -> None:
        """The password was right: clear the account's failures and take back this attempt's IP count."""
        await self.redis.delete(self._account_key(email))
        await self._take_back(self._ip_key(ip))

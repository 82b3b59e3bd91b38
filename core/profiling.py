"""A sampling profiler for a service process, for finding where its CPU goes under load (no dependency).

Switched on by `LEADFLOW_PROFILE_SAMPLES_FILE` (written as `<file>.<pid>`): a daemon thread samples every Python
thread's stack (the event loop, the workflow task threads) every `LEADFLOW_PROFILE_INTERVAL_MS` and rewrites the
file every few seconds in the collapsed-stack format flame graph tools read (`frame;frame;leaf count` a line).
Samples are of wall time: a thread idle in a wait shows as that wait (`scripts/profile_summary.py` leaves those
out). Off by default; meant for benchmarks (`bench/`), not production.

`LEADFLOW_GC_PAUSES_FILE` (written as `<file>.<pid>`) logs each run of the cyclic garbage collector, which stops
every Python thread of the process meanwhile: `<unix time> <generation> <milliseconds> <objects collected>` a line.
"""

import collections
import gc
import os
import sys
import threading
import time
from collections.abc import Callable
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


def log_gc_pauses(path: str) -> Callable[[str, dict[str, int]], None]:
    """Append a line to `<path>.<pid>` for each garbage collection: when it ended, its generation, how long the
    process stood still for it, and what it freed. Answers the callback (`gc.callbacks.remove` stops the log)."""
    target = Path(f"{path}.{os.getpid()}")
    started = 0.0

    def on_collection(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - started) * 1000
        with target.open("a") as log:  # opened per line: readable while the process runs, no handle left open
            log.write(f"{time.time():.3f} {info['generation']} {pause_ms:.2f} {info['collected']}\n")

    gc.callbacks.append(on_collection)
    return on_collection

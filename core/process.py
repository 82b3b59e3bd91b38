"""The life of a long-running Temporal client process (`python -m worker`, `python -m dispatcher`): its start-up heap
frozen out of the garbage collector's way, stop on SIGINT/SIGTERM, log a crash, and leave with `os._exit` after
flushing, because temporalio can abort in finalisers at interpreter exit (sdk-python#300)."""

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from core.config import Settings, get_settings
from core.logging import configure_logging
from core.profiling import log_gc_pauses, start_sampling
from core.tracing import configure_tracing


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def freeze_startup_heap() -> int:
    """Take what the process allocated so far (its modules, settings, clients) out of the cyclic collector's
    generations: it lives as long as the process, and a full collection would otherwise walk all of it, stopping the
    event loop meanwhile (in AI-reply runs at 10/s the interactive worker's full collections took 141-177 ms, 13-51 ms
    once frozen). Frozen objects are still freed by reference counting. Answers how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def run_service(name: str, serve: Callable[[Settings], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run `serve(settings)` to its exit code, then leave the interpreter at once with that code."""
    settings = get_settings()
    configure_logging(settings)
    configure_tracing(settings, service=name)
    if settings.profile_samples_file:
        start_sampling(settings.profile_samples_file, settings.profile_interval_ms)
    if settings.gc_pauses_file:
        log_gc_pauses(settings.gc_pauses_file)
    freeze_startup_heap()
    code = 1
    try:
        code = asyncio.run(serve(settings))
    except Exception:
        logging.getLogger(name).exception("%s crashed", name)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def lower_priority(niceness: int) -> None:
    """Run at nice value `niceness` (or lower priority still, if started so) and, where Linux groups a session's
    processes for the scheduler (autogroup), the group too: a process started in a session of its own otherwise
    keeps a full share of the CPU whatever its nice value."""
    if os.getpriority(os.PRIO_PROCESS, 0) < niceness:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    autogroup = Path("/proc/self/autogroup")
    if autogroup.exists():
        try:
            autogroup.write_text(str(niceness))
        except OSError as exc:
            logging.getLogger(__name__).warning("could not lower the scheduler group's priority: %s", exc)

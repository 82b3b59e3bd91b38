"""`python -m worker`: connect to Temporal and PostgreSQL from settings, run the worker until SIGINT/SIGTERM.

On a signal the worker stops polling, lets running activities finish (within the graceful shutdown timeout), closes
the activities' HTTP and Redis clients and the database pool, and exits. It exits with `os._exit` after flushing:
temporalio can abort in finalisers at interpreter exit (sdk-python#300). No web framework is imported here.
"""

import argparse
import functools
import logging
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

from core.config import Settings
from core.db import create_engine, create_session_factory
from core.process import lower_priority, run_service, stop_event
from core.temporal import connect_temporal
from worker.main import BULK, INTERACTIVE, build_worker
from worker.telemetry import worker_runtime

log = logging.getLogger("worker")


def queues_from_argv(argv: Sequence[str]) -> list[str] | None:
    """`--queues interactive,bulk` (either or both), else None (the settings decide)."""
    parser = argparse.ArgumentParser(prog="python -m worker")
    parser.add_argument("--queues", help="comma-separated: interactive, bulk (default: LEADFLOW_WORKER_QUEUES)")
    args = parser.parse_args(argv)
    if args.queues is None:
        return None
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = set(queues) - {INTERACTIVE, BULK}
    if unknown or not queues:
        parser.error(f"--queues takes interactive and/or bulk, not {args.queues!r}")
    return queues


async def serve(settings: Settings, queues: list[str] | None = None) -> int:
    queues = queues if queues is not None else list(settings.worker_queues)
    if queues == [BULK] and settings.worker_bulk_niceness:
        # Bulk alone: its bursts take the CPU the interactive side leaves over.
        lower_priority(settings.worker_bulk_niceness)
    stop = stop_event()
    try:
        client = await connect_temporal(settings, runtime=worker_runtime(settings))
    except Exception as exc:
        log.error("cannot connect to Temporal at %s: %s", settings.temporal_address, exc)
        return 1
    engine = create_engine(settings)
    try:
        async with AsyncExitStack() as resources:  # closes the activities' HTTP and Redis clients last
            workers = build_worker(client, settings, create_session_factory(engine), resources, queues=queues)
            async with workers:
                log.info("worker polling %s on %s", ", ".join(workers.task_queues), settings.temporal_address)
                if settings.worker_metrics_port is not None:
                    log.info(
                        "metrics at http://%s:%s/metrics", settings.worker_metrics_host, settings.worker_metrics_port
                    )
                await stop.wait()
                log.info("shutting down: finishing running activities")
    finally:
        await engine.dispose()
    log.info("worker stopped")
    return 0


def main() -> None:
    queues = queues_from_argv(sys.argv[1:])
    run_service("worker", functools.partial(serve, queues=queues))


if __name__ == "__main__":
    main()

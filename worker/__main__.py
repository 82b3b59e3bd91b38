"""`python -m worker`: connect to Temporal and PostgreSQL from settings, run the worker until SIGINT/SIGTERM.

On a signal the worker stops polling, lets running activities finish (within the graceful shutdown timeout), closes
the activities' HTTP and Redis clients and the database pool, and exits. It exits with `os._exit` after flushing:
temporalio can abort in finalisers at interpreter exit (sdk-python#300). No web framework is imported here.
"""

import logging
from contextlib import AsyncExitStack

from core.config import Settings
from core.db import create_engine, create_session_factory
from core.process import run_service, stop_event
from core.temporal import connect_temporal
from worker.main import build_worker
from worker.telemetry import worker_runtime

log = logging.getLogger("worker")


async def serve(settings: Settings) -> int:
    stop = stop_event()
    try:
        client = await connect_temporal(settings, runtime=worker_runtime(settings))
    except Exception as exc:
        log.error("cannot connect to Temporal at %s: %s", settings.temporal_address, exc)
        return 1
    engine = create_engine(settings)
    try:
        async with AsyncExitStack() as resources:  # closes the activities' HTTP and Redis clients last
            worker = build_worker(client, settings, create_session_factory(engine), resources)
            async with worker:
                log.info("worker polling %s on %s", worker.task_queue, settings.temporal_address)
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
    run_service("worker", serve)


if __name__ == "__main__":
    main()

"""`python -m worker`: connect to Temporal and PostgreSQL from settings, run the worker until SIGINT/SIGTERM.

On a signal the worker stops polling, lets running activities finish (within the graceful shutdown timeout), closes
the activities' HTTP and Redis clients and the database pool, and exits. It exits with `os._exit` after flushing:
temporalio can abort in finalisers at interpreter exit (sdk-python#300). No web framework is imported here.
"""

import asyncio
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack

from core.config import Settings, get_settings
from core.db import create_engine, create_session_factory
from core.temporal import connect_temporal
from worker.main import build_worker

log = logging.getLogger("worker")


async def serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        client = await connect_temporal(settings)
    except Exception as exc:
        log.error("cannot connect to Temporal at %s: %s", settings.temporal_address, exc)
        return 1
    engine = create_engine(settings)
    try:
        async with AsyncExitStack() as resources:  # closes the activities' HTTP and Redis clients last
            worker = build_worker(client, settings, create_session_factory(engine), resources)
            async with worker:
                log.info("worker polling %s on %s", worker.task_queue, settings.temporal_address)
                await stop.wait()
                log.info("shutting down: finishing running activities")
    finally:
        await engine.dispose()
    log.info("worker stopped")
    return 0


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = 1
    try:
        code = asyncio.run(serve(settings))
    except Exception:
        log.exception("worker crashed")
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()

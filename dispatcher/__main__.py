"""`python -m dispatcher`: handle webhook inbox events until SIGINT/SIGTERM.

It lowers its own CPU priority (`LEADFLOW_DISPATCHER_NICENESS`, 10) so that on a host it shares with the API, a
burst of webhooks is acknowledged first and drained behind.

On a signal it stops claiming, lets the events in hand finish, closes the database pool and exits with `os._exit`
after flushing: temporalio can abort in finalisers at interpreter exit (sdk-python#300). No web framework is
imported here. With `LEADFLOW_DISPATCHER_METRICS_PORT` set it serves its Prometheus metrics (dispatcher/metrics.py)
on that port.
"""

import logging

from prometheus_client import start_http_server

from core.config import Settings
from core.db import create_engine, create_session_factory
from core.process import lower_priority, run_service, stop_event
from core.temporal import connect_temporal
from dispatcher.runner import InboxDispatcher

log = logging.getLogger("dispatcher")


async def serve(settings: Settings) -> int:
    if settings.dispatcher_niceness:
        lower_priority(settings.dispatcher_niceness)
    stop = stop_event()
    try:
        client = await connect_temporal(settings)
    except Exception as exc:
        log.error("cannot connect to Temporal at %s: %s", settings.temporal_address, exc)
        return 1
    engine = create_engine(settings)
    if settings.dispatcher_metrics_port is not None:
        start_http_server(settings.dispatcher_metrics_port, addr=settings.dispatcher_metrics_host)
        log.info("metrics at http://%s:%s/metrics", settings.dispatcher_metrics_host, settings.dispatcher_metrics_port)
    try:
        log.info("dispatching webhook inbox events (Temporal %s)", settings.temporal_address)
        await InboxDispatcher(settings=settings, session_factory=create_session_factory(engine), temporal=client).run(
            stop
        )
    finally:
        await engine.dispose()
    log.info("dispatcher stopped")
    return 0


def main() -> None:
    run_service("dispatcher", serve)


if __name__ == "__main__":
    main()

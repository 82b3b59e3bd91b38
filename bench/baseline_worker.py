"""`python -m bench.baseline_worker`: the baseline workflows (bench/baseline.py) on a worker built like the real one.

Same client (core.temporal), same sandbox runner with the same passthrough modules and the same graceful shutdown
as worker/main.py's `build_worker`; only the workflows and the activity differ. Runs until SIGTERM/SIGINT and
exits with os._exit after flushing (sdk-python#300).
"""

import asyncio
import logging
import os
import signal
import sys

from temporalio.worker import Worker

from bench.baseline import BASELINE_QUEUE, BaselineWorkflow, SignalProbeWorkflow, TimerBaselineWorkflow, noop
from core.config import get_settings
from core.queues import WORKER_GRACEFUL_SHUTDOWN
from core.temporal import connect_temporal
from worker.main import workflow_runner

log = logging.getLogger("bench.baseline_worker")


async def serve() -> int:
    settings = get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = await connect_temporal(settings)
    worker = Worker(
        client,
        task_queue=BASELINE_QUEUE,
        workflows=[BaselineWorkflow, SignalProbeWorkflow, TimerBaselineWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(settings.worker_workflow_sandbox),
        graceful_shutdown_timeout=WORKER_GRACEFUL_SHUTDOWN,
    )
    async with worker:
        log.info("baseline worker polling %s", BASELINE_QUEUE)
        await stop.wait()
    return 0


def main() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code = 1
    try:
        code = asyncio.run(serve())
    except Exception:
        log.exception("baseline worker crashed")
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()

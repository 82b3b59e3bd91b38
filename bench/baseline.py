"""The bare-engine baseline: what Temporal plus a Python worker with Leadflow's worker settings do with no app code.

- `BaselineWorkflow`: one no-op activity, then done. `measure_workflows` runs N of them at a fixed client
  concurrency, each timed from start to completion (client side), and answers workflows per second.
- `TimerBaselineWorkflow`: sleeps until a moment, then one no-op activity; `measure_timer_burst` makes N of them
  due at once and answers workflows per second from that moment to the last completion.
- `SignalProbeWorkflow`: waits; each `ping` signal counts one. `measure_signal_round_trip` signals it and queries
  until the count shows the signal handled (a query after a signal sees it: Temporal queries are consistent), and
  answers the round trips in seconds. `measure_signal_with_start` sends many pings by signal-with-start over a set
  of probes, concurrently, and answers the engine's signals per second.

The baseline worker (bench/baseline_worker.py) serves both on `BASELINE_QUEUE` with the real worker's sandbox runner
and shutdown settings. The workflow sandbox re-imports this module: it imports nothing but temporalio.
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client

BASELINE_QUEUE = "leadflow-bench-baseline"


@activity.defn
async def noop() -> None:
    return None


@workflow.defn
class BaselineWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class TimerBaselineWorkflow:
    """Sleeps until `fire_at` (epoch seconds), then one no-op activity: a due step with no app code."""

    @workflow.run
    async def run(self, fire_at: float) -> None:
        await workflow.sleep(max(0.0, fire_at - workflow.now().timestamp()))
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class SignalProbeWorkflow:
    def __init__(self) -> None:
        self._handled = 0
        self._done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        return self._handled

    @workflow.signal
    def ping(self) -> None:
        self._handled += 1

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.query
    def handled(self) -> int:
        return self._handled


async def measure_workflows(client: Client, *, n: int, concurrency: int, prefix: str = "baseline") -> float:
    """Run `n` BaselineWorkflows, `concurrency` at a time; workflows per second, first start to last completion."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    tag = uuid.uuid4().hex[:8]

    async def one_by_one() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await client.execute_workflow(BaselineWorkflow.run, id=f"{prefix}-{tag}-{i}", task_queue=BASELINE_QUEUE)

    started = time.perf_counter()
    await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def measure_signal_round_trip(client: Client, *, samples: int) -> list[float]:
    """Signal a waiting workflow `samples` times, one after the other; each signal's time until a query shows it."""
    handle = await client.start_workflow(
        SignalProbeWorkflow.run, id=f"signal-probe-{uuid.uuid4().hex[:8]}", task_queue=BASELINE_QUEUE
    )
    await handle.query(SignalProbeWorkflow.handled)  # the first workflow task has run
    round_trips = []
    for expected in range(1, samples + 1):
        started = time.perf_counter()
        await handle.signal(SignalProbeWorkflow.ping)
        while await handle.query(SignalProbeWorkflow.handled) < expected:
            pass
        round_trips.append(time.perf_counter() - started)
    await handle.signal(SignalProbeWorkflow.finish)
    await handle.result()
    return round_trips


async def measure_signal_with_start(client: Client, *, signals: int, workflows: int, concurrency: int) -> float:
    """Signal-with-start `signals` pings over `workflows` probe workflows, `concurrency` at a time (as the webhook
    dispatcher signals lead workflows); signals per second, first send until every probe has handled its share."""
    tag = uuid.uuid4().hex[:8]
    ids = [f"signal-start-probe-{tag}-{w}" for w in range(workflows)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(signals):
        queue.put_nowait(i)

    async def one_by_one() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await client.start_workflow(
                SignalProbeWorkflow.run,
                id=ids[i % workflows],
                task_queue=BASELINE_QUEUE,
                start_signal="ping",
            )

    started = time.perf_counter()
    await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
    expected = {w: len(range(w, signals, workflows)) for w in range(workflows)}
    for w, workflow_id in enumerate(ids):
        handle = client.get_workflow_handle_for(SignalProbeWorkflow.run, workflow_id)
        while await handle.query(SignalProbeWorkflow.handled) < expected[w]:
            pass  # each query is a round trip: no busy spin
    rate = signals / (time.perf_counter() - started)
    await asyncio.gather(*(client.get_workflow_handle(w).signal("finish") for w in ids))
    return rate


async def measure_timer_burst(
    client: Client, *, n: int, lead_seconds: float = 20.0, at_fire: Callable[[], None] | None = None
) -> float:
    """Start `n` TimerBaselineWorkflows all due at one moment `lead_seconds` ahead; workflows per second from that
    moment until the last completed (the bare engine's rate for a burst of due timer + activity workflows).
    `at_fire`: called at that moment (e.g. a CPU reading, so the burst's own cost can be told from the starts')."""
    tag = uuid.uuid4().hex[:8]
    fire_at = time.time() + lead_seconds
    semaphore = asyncio.Semaphore(32)

    async def start(i: int) -> None:
        async with semaphore:
            await client.start_workflow(
                TimerBaselineWorkflow.run, fire_at, id=f"timer-baseline-{tag}-{i}", task_queue=BASELINE_QUEUE
            )

    await asyncio.gather(*(start(i) for i in range(n)))
    if time.time() > fire_at:
        raise RuntimeError(f"starting {n} timer workflows took longer than {lead_seconds} s: raise lead_seconds")
    if at_fire is not None:
        await asyncio.sleep(max(0.0, fire_at - time.time()))
        at_fire()
    for i in range(n):
        await client.get_workflow_handle(f"timer-baseline-{tag}-{i}").result()
    return n / (time.time() - fire_at)

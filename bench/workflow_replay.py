"""Workflow runner benchmark: CPU to rebuild a workflow from its history, in the SDK's sandbox and without it.

    ./run bench workflow_replay [--repeat 40]

An uncached worker (the bulk worker: no workflow cache, README "Due-step bursts") rebuilds the workflow from its
history for every workflow task, so this is the worker's cost per task beyond the activity itself. Each recorded
history of tests/workflows/histories is replayed `--repeat` times by one replayer (one worker, as a running worker
is) per runner; reported per history: events, CPU per replay on each runner (process time, all threads) and the
ratio of unsandboxed to sandboxed. Figures only: nothing here asserts a time. In-process, no servers.
"""

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bench.harness import exit_now
from worker.main import workflow_runner
from workflows.call import CallWorkflow
from workflows.lead import LeadWorkflow
from workflows.sequence import SequenceWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "histories"
CASES = [
    (SequenceWorkflow, "sequence/completed_with_waits.json"),
    (SequenceWorkflow, "sequence/folded_sends_capped_then_stopped.json"),
    (LeadWorkflow, "ai_turns.json"),
    (LeadWorkflow, "whatsapp_conversation.json"),
    (CallWorkflow, "call/conversation.json"),
]


async def cpu_per_replay(workflow: type, history: WorkflowHistory, *, sandboxed: bool, repeat: int) -> float:
    replayer = Replayer(
        workflows=[workflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner(sandboxed)
    )

    async def histories(count: int) -> AsyncIterator[WorkflowHistory]:
        # Parsed once (a worker gets the events from the server, not as JSON); a fresh id per replay.
        for i in range(count):
            yield WorkflowHistory(workflow_id=f"bench-replay-{i}", events=history.events)

    await replayer.replay_workflows(histories(3))  # the worker's own start-up stays out of the figure
    began = time.process_time()
    await replayer.replay_workflows(histories(repeat))
    return (time.process_time() - began) * 1000 / repeat


async def run(args: argparse.Namespace) -> int:
    print(f"{'history':48} {'events':>6} {'sandboxed':>10} {'unsandboxed':>12} {'ratio':>6}  (ms CPU per replay)")
    for workflow, name in CASES:
        history = WorkflowHistory.from_json("bench-replay", (HISTORIES / name).read_text())
        sandboxed = await cpu_per_replay(workflow, history, sandboxed=True, repeat=args.repeat)
        plain = await cpu_per_replay(workflow, history, sandboxed=False, repeat=args.repeat)
        print(f"{name:48} {len(history.events):>6} {sandboxed:>10.1f} {plain:>12.1f} {plain / sandboxed:>6.2f}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40, choices=range(1, 1001), metavar="N")
    args = parser.parse_args()
    exit_now(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

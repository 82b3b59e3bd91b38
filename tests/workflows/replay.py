"""Replaying a recorded history (tests/workflows/histories, written by scripts/record_*histories.py) on the current
workflow code: a change that running workflows could not follow fails the replay instead of production."""

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import workflow_runner

HISTORIES = Path(__file__).parent / "histories"


def recorded(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    # The workflow id is not in the event list itself; any id serves for a replay.
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


async def replay_failure(path: Path, workflow: type) -> BaseException | None:
    """Why replaying the history at `path` on `workflow` fails, or None when it replays.

    It replays twice: in the SDK's sandbox, which refuses a non-deterministic call (the clock, randomness, I/O) on
    the recorded path, and on the workers' own runner without it (worker/main.py, `workflow_runner`)."""
    for sandboxed in (True, False):
        replayer = Replayer(
            workflows=[workflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner(sandboxed)
        )
        result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
        if result.replay_failure is not None:
            return result.replay_failure
    return None

"""Replay recorded SequenceWorkflow histories (tests/workflows/histories/sequence, written by
scripts/record_sequence_histories.py) against the current workflow code: a change that running enrollments could not
follow (a command added, removed or reordered without `workflow.patched`) fails here instead of in production."""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import workflow_runner
from workflows.sequence import SequenceWorkflow

HISTORIES = Path(__file__).parent / "histories" / "sequence"
# Each scenario and a signal, update or step outcome its history must hold (so a recording cannot silently shrink).
SCENARIOS = {
    "completed_with_waits": "WORKFLOW_EXECUTION_COMPLETED",
    "replied_during_wait": "lead_replied",
    "paused_resumed_stopped": "resume",
    "paused_before_first_wait": "core_patch",  # the pause-holds-schedule marker: the wait kept its planned end
    "task_completed_and_capped": "complete_task",
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


@pytest.mark.parametrize(("name", "marker"), sorted(SCENARIOS.items()))
def test_every_scenario_is_recorded_and_finished(name: str, marker: str) -> None:
    text = (HISTORIES / f"{name}.json").read_text()
    events = json.loads(text)["events"]
    assert events[-1]["eventType"] in ("EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", "WORKFLOW_EXECUTION_COMPLETED")
    assert marker in text


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_a_recorded_sequence_history_replays_on_the_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=[SequenceWorkflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"

"""Replay recorded CallWorkflow histories (tests/workflows/histories/call, written by scripts/record_call_histories.py)
against the current workflow code: a change running calls could not follow fails here, not in production."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import workflow_runner
from workflows.call import CallWorkflow

HISTORIES = Path(__file__).parent / "histories" / "call"
SCENARIOS = {"conversation", "voicemail", "busy_then_retry"}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def test_every_scenario_has_a_recorded_history() -> None:
    assert SCENARIOS <= {path.stem for path in HISTORIES.glob("*.json")}


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_a_recorded_call_history_replays_on_the_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=[CallWorkflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure

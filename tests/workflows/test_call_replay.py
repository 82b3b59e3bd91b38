"""Replay recorded CallWorkflow histories (tests/workflows/histories/call, written by scripts/record_call_histories.py)
against the current workflow code: a change running calls could not follow fails here, not in production."""

from pathlib import Path

import pytest

from tests.workflows.replay import HISTORIES, recorded, replay_failure
from workflows.call import CallWorkflow

CALLS = HISTORIES / "call"
SCENARIOS = {
    "conversation",
    "voicemail",
    "busy_then_retry",
    "conversation_summarised",
    "sequence_no_answer",
    "conversation_slot_wakes",
    "conversation_local_steps",
}


def test_every_scenario_has_a_recorded_history() -> None:
    assert SCENARIOS <= {path.stem for path in CALLS.glob("*.json")}


@pytest.mark.parametrize("path", recorded(CALLS), ids=lambda path: path.stem)
async def test_a_recorded_call_history_replays_on_the_current_code(path: Path) -> None:
    failure = await replay_failure(path, CallWorkflow)
    assert failure is None, failure

"""Replay recorded LeadWorkflow histories (tests/workflows/histories, written by scripts/record_histories.py) against
the current workflow code: a change that running workflows could not follow fails here instead of in production."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker.main import workflow_runner
from workflows.lead import LeadWorkflow

HISTORIES = Path(__file__).parent / "histories"
SCENARIOS = {
    "status_changes_until_won",
    "speed_to_lead_alert",
    "contacted_before_the_sla",
    "continue_as_new-run1",
    "continue_as_new-run2",
    "started_by_status_change",
    "lead_deleted",
    # Recorded before the AI agent joined the lead workflow: inbound messages, a manual send, an opt-out.
    "whatsapp_conversation",
    # The AI agent's turns: reply, guardrail draft approved, handoff and hand-back, a draft withdrawn.
    "ai_turns",
}


def load(path: Path) -> WorkflowHistory:
    # The workflow id is not in the event list itself; any id serves for a replay.
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


def test_every_scenario_has_a_recorded_history() -> None:
    assert SCENARIOS <= {path.stem for path in HISTORIES.glob("*.json")}


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_a_recorded_history_replays_on_the_current_code(path: Path) -> None:
    replayer = Replayer(
        workflows=[LeadWorkflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"

"""Replay recorded LeadWorkflow histories (tests/workflows/histories, written by scripts/record_histories.py) against
the current workflow code: a change that running workflows could not follow fails here instead of in production."""

from pathlib import Path

import pytest

from tests.workflows.replay import HISTORIES, recorded, replay_failure
from workflows.lead import LeadWorkflow

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
    # Runs of the lead's messages in one signal each, one with an opt-out keyword in the middle.
    "whatsapp_burst",
    # The AI agent's turns: reply, guardrail draft approved, handoff and hand-back, a draft withdrawn.
    "ai_turns",
    # Debounces counted from the webhook's acknowledgement: a timer then the turn's last second; the turn alone.
    "ai_debounce_from_acceptance",
    # An auto reply sent by its turn activity, then a draft approved and sent by the workflow.
    "ai_reply_in_turn",
}


def test_every_scenario_has_a_recorded_history() -> None:
    assert SCENARIOS <= {path.stem for path in HISTORIES.glob("*.json")}


@pytest.mark.parametrize("path", recorded(HISTORIES), ids=lambda path: path.stem)
async def test_a_recorded_history_replays_on_the_current_code(path: Path) -> None:
    failure = await replay_failure(path, LeadWorkflow)
    assert failure is None, f"{path.name}: {failure!r}"

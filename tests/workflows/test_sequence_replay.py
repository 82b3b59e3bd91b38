"""Replay recorded SequenceWorkflow histories (tests/workflows/histories/sequence, written by
scripts/record_sequence_histories.py) against the current workflow code: a change that running enrollments could not
follow (a command added, removed or reordered without `workflow.patched`) fails here instead of in production."""

import json
from pathlib import Path

import pytest

from tests.workflows.replay import HISTORIES, recorded, replay_failure
from workflows.sequence import SequenceWorkflow

SEQUENCES = HISTORIES / "sequence"
# Each scenario and a signal, update or step outcome its history must hold (so a recording cannot silently shrink).
SCENARIOS = {
    "completed_with_waits": "WORKFLOW_EXECUTION_COMPLETED",
    "replied_during_wait": "lead_replied",
    "paused_resumed_stopped": "resume",
    "paused_before_first_wait": "core_patch",  # the pause-holds-schedule marker: the wait kept its planned end
    "folded_sends_capped_then_stopped": "sequence.send_message",  # due sends as one activity, a cap deferral, a stop
    # sends written ahead for the drain, the enrollment asleep past them; the last refused, signalled
    "scheduled_sends_then_refused": "scheduled_send_settled",
    "task_completed_and_capped": "complete_task",
    "ai_message_fallback_and_approved_draft": "decide_ai_draft",  # an ai_message fallback, then an approved draft
    "call_steps_unanswered_then_connected": "call_ended",  # a call step going on, then one ending the enrollment
}


@pytest.mark.parametrize(("name", "marker"), sorted(SCENARIOS.items()))
def test_every_scenario_is_recorded_and_finished(name: str, marker: str) -> None:
    text = (SEQUENCES / f"{name}.json").read_text()
    events = json.loads(text)["events"]
    assert events[-1]["eventType"] in ("EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", "WORKFLOW_EXECUTION_COMPLETED")
    assert marker in text


@pytest.mark.parametrize("path", recorded(SEQUENCES), ids=lambda path: path.stem)
async def test_a_recorded_sequence_history_replays_on_the_current_code(path: Path) -> None:
    failure = await replay_failure(path, SequenceWorkflow)
    assert failure is None, f"{path.name}: {failure!r}"

"""The `call` step: validated like the other steps (its branches, its wait), fired inside the lead's business hours,
and shown by the preview with where each outcome leads."""

from datetime import UTC, datetime

import pytest

from domain.calls import sequence_branch
from domain.sequences.definition import SequenceDefinitionError, parse_definition
from domain.sequences.preview import preview
from domain.sequences.steps import CallStep, Duration


def _paths(error: SequenceDefinitionError) -> dict[str, str]:
    return {e.path: e.message for e in error.errors}


def test_a_call_step_parses_with_its_branches_and_contacts_the_lead() -> None:
    definition = parse_definition(
        {
            "steps": [
                {"type": "call", "id": "ring", "on_no_answer": "exit", "wait_up_to": "PT90M"},
                {"type": "call"},
            ]
        }
    )
    step, second = definition.steps
    assert isinstance(step, CallStep) and step.on("no_answer") == "exit" and step.on("connected") == "exit"
    assert step.wait_up_to == Duration(minutes=90)
    assert isinstance(second, CallStep) and second.id == "call_1"
    assert (second.on_connected, second.on_voicemail, second.on_no_answer) == ("exit", "continue", "continue")
    assert CallStep.contacts_lead and CallStep.capped_channel is None


def test_bad_branches_and_waits_are_refused_and_a_call_that_always_exits_ends_the_sequence() -> None:
    with pytest.raises(SequenceDefinitionError) as caught:
        parse_definition(
            {
                "steps": [
                    {"type": "call", "on_voicemail": "retry"},
                    {"type": "call", "wait_up_to": {"hours": 0}},
                    {"type": "call", "on_connected": "exit", "on_voicemail": "exit", "on_no_answer": "exit"},
                    {"type": "wait", "duration": {"days": 1}},
                ]
            }
        )
    paths = _paths(caught.value)
    assert "steps[0].on_voicemail" in paths
    assert paths["steps[1].wait_up_to"] == "the duration must be longer than zero"
    assert "can never be reached" in paths["steps[3]"] and "whatever the call's outcome" in paths["steps[3]"]


def test_the_preview_says_where_each_outcome_leads_inside_business_hours() -> None:
    definition = parse_definition({"steps": [{"type": "call", "id": "ring", "on_voicemail": "exit"}]})
    (row,) = preview(
        definition,
        start_at=datetime(2026, 3, 7, 10, 0, tzinfo=UTC),  # a Saturday: the call waits for Monday morning
        lead_timezone="Europe/London",
        lead_fields={},
    )
    assert row.type == "call"
    assert row.summary == (
        "Call the lead, waiting up to 4 h for the outcome "
        "(connected: end the sequence; voicemail: end the sequence; no answer: continue)"
    )
    assert row.waited_for_business_hours and row.fire_at_local.startswith("2026-03-09T09:00")


@pytest.mark.parametrize(
    ("disposition", "branch"),
    [
        ("human_connected", "connected"),
        ("interested", "connected"),
        ("do_not_call", "connected"),
        ("voicemail_left", "voicemail"),
        ("no_answer", "no_answer"),
        ("busy", "no_answer"),
        ("failed", "no_answer"),
        ("canceled", "no_answer"),
    ],
)
def test_each_disposition_takes_one_branch(disposition: str, branch: str) -> None:
    assert sequence_branch(disposition) == branch

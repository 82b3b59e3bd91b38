"""The step union: parsing by `type`, duration forms, id assignment, and the JSON schema the builder reads."""

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.sequences.definition import SequenceDefinition
from domain.sequences.steps import (
    Duration,
    SendWhatsAppStep,
    SetStatusStep,
    Step,
    TaskStep,
    WaitForReplyStep,
    WaitStep,
    step_types,
)

STEP = TypeAdapter(Step)


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        ({"type": "send_whatsapp", "text": "Hi {{first_name}}"}, SendWhatsAppStep),
        ({"type": "send_whatsapp", "template": {"name": "intro", "parameters": ["{{name}}"]}}, SendWhatsAppStep),
        ({"type": "wait", "duration": {"days": 1, "hours": 2}}, WaitStep),
        ({"type": "wait_for_reply", "timeout": "P3D", "on_reply": "continue"}, WaitForReplyStep),
        ({"type": "task", "title": "Call", "assignee": "0b6f8c1e"}, TaskStep),
        ({"type": "set_status", "status": "contacted"}, SetStatusStep),
    ],
)
def test_the_type_field_picks_the_step_class(data, cls):
    assert type(STEP.validate_python(data)) is cls


def test_an_unknown_type_is_refused():
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        STEP.validate_python({"type": "fax", "text": "hi"})


def test_a_field_of_another_step_type_is_refused():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        STEP.validate_python({"type": "wait", "duration": 60, "text": "hi"})


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ({"days": 1, "hours": 2, "minutes": 30}, Duration(days=1, hours=2, minutes=30)),
        (5400, Duration(seconds=5400)),
        ("P1DT2H30M", Duration(days=1, hours=2, minutes=30)),
        ("PT90M", Duration(minutes=90)),
        ("p2w", Duration(days=14)),
        ("PT45S", Duration(seconds=45)),
    ],
)
def test_durations_are_written_as_object_seconds_or_iso8601(written, expected):
    assert Duration.model_validate(written) == expected


@pytest.mark.parametrize("written", ["P", "PT", "1 day", "P1DT", "PT1.5H", True])
def test_malformed_durations_are_refused(written):
    with pytest.raises(ValidationError):
        Duration.model_validate(written)


def test_durations_are_stored_in_object_form():
    step = STEP.validate_python({"type": "wait", "duration": "P1DT2H"})
    assert step.model_dump()["duration"] == {"days": 1, "hours": 2, "minutes": 0, "seconds": 0}


def test_missing_ids_are_assigned_per_type_without_taking_an_explicit_one():
    definition = SequenceDefinition.model_validate(
        {
            "steps": [
                {"type": "send_whatsapp", "text": "a"},
                {"id": "send_whatsapp_2", "type": "send_whatsapp", "text": "b"},
                {"type": "wait", "duration": 60},
                {"type": "send_whatsapp", "text": "c"},
            ]
        }
    )
    assert [s.id for s in definition.steps] == ["send_whatsapp_1", "send_whatsapp_2", "wait_1", "send_whatsapp_3"]


def test_assigned_ids_survive_a_round_trip():
    first = SequenceDefinition.model_validate({"steps": [{"type": "wait", "duration": 60}]})
    again = SequenceDefinition.model_validate(first.model_dump(mode="json"))
    assert again == first and again.steps[0].id == "wait_1"


def test_json_schema_describes_the_union_by_its_discriminator():
    schema = SequenceDefinition.model_json_schema()
    union = schema["properties"]["steps"]["items"]
    assert union["discriminator"]["propertyName"] == "type"
    assert set(union["discriminator"]["mapping"]) == set(step_types())
    assert set(step_types()) == {"send_whatsapp", "wait", "wait_for_reply", "task", "set_status", "ai_message", "call"}
    assert schema["$defs"]["BusinessHours"]["properties"]["start"]["default"] == "09:00"

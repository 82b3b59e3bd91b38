"""The `ai_message` step: its definition is validated like the other steps and the preview shows what the owner
wrote (the instructions and the fallback text, rendered for the lead), since the message itself is only written
when the step runs."""

from datetime import UTC, datetime

import pytest

from domain.sequences.definition import SequenceDefinitionError, parse_definition
from domain.sequences.preview import preview
from domain.sequences.steps import AiMessageStep

AI_STEP = {
    "id": "ask",
    "type": "ai_message",
    "instructions": "Ask {{first_name}} whether {{custom.product}} is still of interest; mention the price.",
    "fallback_text": "Hi {{first_name|there}}, still interested in {{custom.product}}?",
    "approval": True,
    "fallback_template": {"name": "nudge", "parameters": ["{{first_name}}"]},
}


def _paths(error: SequenceDefinitionError) -> dict[str, str]:
    return {e.path: e.message for e in error.errors}


def test_an_ai_message_step_parses_and_contacts_the_lead_under_the_whatsapp_cap() -> None:
    definition = parse_definition(
        {"steps": [AI_STEP, {"type": "ai_message", "instructions": "x", "fallback_text": "y"}]}
    )
    step, second = definition.steps
    assert isinstance(step, AiMessageStep) and step.approval and step.fallback_template is not None
    assert isinstance(second, AiMessageStep) and second.id == "ai_message_1" and not second.approval
    assert AiMessageStep.contacts_lead and AiMessageStep.capped_channel == "whatsapp"


def test_instructions_and_fallback_text_are_required_and_checked_for_variables() -> None:
    with pytest.raises(SequenceDefinitionError) as caught:
        parse_definition(
            {
                "steps": [
                    {"type": "ai_message", "instructions": "Greet them"},
                    {"type": "ai_message", "instructions": "Greet {{frist_name}}", "fallback_text": "Hello"},
                    {"type": "ai_message", "instructions": "   ", "fallback_text": "Hi {{first_name}}"},
                    {"type": "ai_message", "instructions": "Hello", "fallback_text": "Hi", "tone": "warm"},
                ]
            }
        )
    paths = _paths(caught.value)
    assert paths["steps[0].fallback_text"] == "required"
    assert "frist_name" in paths["steps[1].instructions"]
    assert paths["steps[2].instructions"] == "the instructions are empty"
    assert paths["steps[3].tone"] == "unknown field"


def test_the_preview_shows_the_instructions_and_the_fallback_rendered_for_the_lead() -> None:
    definition = parse_definition({"steps": [AI_STEP]})
    (row,) = preview(
        definition,
        start_at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        lead_timezone="Europe/London",
        lead_fields={"first_name": "Ana", "custom": {}},
    )
    assert row.type == "ai_message"
    assert row.instructions == "Ask Ana whether  is still of interest; mention the price."
    assert row.fallback_text == "Hi Ana, still interested in ?"
    assert row.approval is True
    assert row.fallback_template is not None and row.fallback_template.parameters == ["Ana"]
    assert row.missing_variables == ["custom.product"]
    assert row.text is None  # written by the model when the step runs
    assert row.summary == "Send a WhatsApp message written by the AI agent, approved by a person"
    assert row.fire_at_utc == "2026-03-03T10:00:00Z"

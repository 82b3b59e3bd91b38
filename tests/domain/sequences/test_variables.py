"""`{{variable}}` checking (on save) and rendering (at send time and in the preview)."""

import pytest

from domain.sequences.variables import check_text, render

LEAD = {
    "first_name": "Ana",
    "last_name": "Silva",
    "phone": "+442079460000",
    "email": "ana@example.com",
    "custom": {"city": "Leeds", "plan-tier": "gold"},
}


def test_lead_fields_and_custom_fields_render():
    text = "Hi {{first_name}} {{ last_name }} ({{phone}}, {{email}}) in {{custom.city}}, tier {{custom.plan-tier}}"
    rendered = render(text, LEAD)
    assert rendered.text == "Hi Ana Silva (+442079460000, ana@example.com) in Leeds, tier gold"
    assert rendered.missing == []


def test_name_falls_back_to_first_and_last_name():
    assert render("{{name}}", LEAD).text == "Ana Silva"
    assert render("{{name}}", {**LEAD, "name": "Dr. Ana Silva"}).text == "Dr. Ana Silva"


def test_a_missing_value_renders_empty_and_is_reported():
    rendered = render("Hi {{first_name}}, from {{custom.company}}", {"first_name": "  ", "custom": {}})
    assert rendered.text == "Hi , from "
    assert rendered.missing == ["first_name", "custom.company"]


def test_a_missing_value_uses_the_fallback_after_the_pipe():
    assert render("Hi {{first_name | there}}!", {}).text == "Hi there!"
    assert render("Hi {{first_name | there}}!", LEAD).text == "Hi Ana!"
    assert render("Hi {{first_name | there}}!", {}).missing == ["first_name"]


def test_text_without_placeholders_is_unchanged():
    assert render("Prices from {5} {x}", LEAD).text == "Prices from {5} {x}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hi {{firstname}}", "unknown variable '{{firstname}}'"),
        ("Hi {{custom.}}", "needs a key"),
        ("Hi {{custom.a b}}", "needs a key"),
        ("Hi {{ }}", "empty variable"),
        ("Hi {{first_name", "never closed"),
        ("Hi first_name}}", "no opening"),
    ],
)
def test_bad_placeholders_are_reported(text, problem):
    problems = check_text(text)
    assert len(problems) == 1 and problem in problems[0]


def test_good_placeholders_pass():
    assert check_text("Hi {{first_name|there}}, {{custom.city}} {{email}} {{name}} {{last_name}} {{phone}}") == []

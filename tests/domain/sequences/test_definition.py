"""Validation on save: every error names the bad step and field, all at once, as {path, message}."""

import pytest

from core.errors import Unprocessable
from domain.sequences.definition import MAX_STEPS, SequenceDefinitionError, parse_definition, zone_exists
from domain.stages import Stage


def errors_of(data, **kwargs) -> dict[str, str]:
    with pytest.raises(SequenceDefinitionError) as caught:
        parse_definition(data, **kwargs)
    return {e.path: e.message for e in caught.value.errors}


def send(text="Hi {{first_name}}", **extra):
    return {"type": "send_whatsapp", "text": text, **extra}


def test_a_valid_definition_parses_with_defaults():
    definition = parse_definition({"steps": [send(), {"type": "wait", "duration": "P1D"}, send("Again")]})
    settings = definition.settings
    assert settings.exit_on_reply is True
    assert settings.exit_on_stages == [Stage.WON, Stage.LOST, Stage.OPTED_OUT]
    assert (settings.business_hours.days, settings.business_hours.start, settings.business_hours.end) == (
        ["mon", "tue", "wed", "thu", "fri"],
        "09:00",
        "18:00",
    )
    assert settings.daily_cap.whatsapp is None


def test_json_text_is_accepted():
    assert parse_definition('{"steps": [{"type": "set_status", "status": "contacted"}]}').steps[0].id == "set_status_1"


def test_the_error_is_a_422_carrying_every_problem():
    with pytest.raises(SequenceDefinitionError) as caught:
        parse_definition({"steps": [send("Hi {{frist_name}}"), {"type": "wait", "duration": 0}]})
    error = caught.value
    assert isinstance(error, Unprocessable) and error.status_code == 422
    assert error.details == [
        {"path": "steps[0].text", "message": error.errors[0].message},
        {"path": "steps[1].duration", "message": "the duration must be longer than zero"},
    ]
    assert "steps[0].text" in error.message and "frist_name" in error.message


def test_unknown_template_variable_points_at_the_text_or_parameter():
    errors = errors_of(
        {
            "steps": [
                send("Hi {{frist_name}}"),
                {"type": "send_whatsapp", "template": {"name": "intro", "parameters": ["{{name}}", "{{nmae}}"]}},
                send("x", fallback_template={"name": "fb", "parameters": ["{{custom.}}"]}),
                {"type": "task", "title": "Call {{fone}}"},
            ]
        }
    )
    assert errors.keys() == {
        "steps[0].text",
        "steps[1].template.parameters[1]",
        "steps[2].fallback_template.parameters[0]",
        "steps[3].title",
    }
    assert "unknown variable '{{frist_name}}'" in errors["steps[0].text"]


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (0, "longer than zero"),
        ({"days": 0, "hours": 0}, "longer than zero"),
        (-60, "cannot be negative"),
        ({"days": 1, "hours": -2}, "cannot be negative"),
        ({"days": 400}, "at most 365 days"),
    ],
)
def test_wait_of_zero_negative_or_too_long(duration, message):
    errors = errors_of({"steps": [send(), {"type": "wait", "duration": duration}]})
    assert message in errors["steps[1].duration"]


def test_reply_timeout_and_task_due_are_checked_too():
    errors = errors_of(
        {
            "steps": [
                {"type": "wait_for_reply", "timeout": 0, "on_reply": "continue"},
                {"type": "task", "title": "t", "due_in": -1},
            ]
        }
    )
    assert errors.keys() == {"steps[0].timeout", "steps[1].due_in"}


def test_empty_sequence():
    assert errors_of({"steps": []}) == {"steps": "a sequence needs at least one step"}


def test_too_many_steps():
    errors = errors_of({"steps": [send()] * (MAX_STEPS + 1)})
    assert errors == {"steps": f"a sequence has at most {MAX_STEPS} steps (this one has {MAX_STEPS + 1})"}
    # An absurd payload is refused before its steps are parsed, with the same rule.
    assert errors_of({"steps": [send()] * 10_000}) == {"steps": f"a sequence has at most {MAX_STEPS} steps"}


def test_duplicate_and_malformed_step_ids():
    errors = errors_of({"steps": [send(id="hello"), send(id="hello"), send(id="has space")]})
    assert errors == {
        "steps[1].id": "duplicate step id 'hello' (also steps[0])",
        "steps[2].id": "a step id is 1-64 letters, digits, '_', '-' or '.'",
    }


def test_steps_after_a_wait_for_reply_that_always_exits_can_never_be_reached():
    errors = errors_of(
        {
            "steps": [
                send(),
                {"type": "wait_for_reply", "timeout": "P2D", "on_reply": "exit", "on_timeout": "exit"},
                send(),
                send(),
            ]
        }
    )
    assert errors.keys() == {"steps[2]", "steps[3]"}
    assert errors["steps[2]"].startswith("this step can never be reached: steps[1] always ends the enrollment")


def test_a_wait_for_reply_that_continues_on_reply_keeps_later_steps_reachable():
    parse_definition(
        {"steps": [{"type": "wait_for_reply", "timeout": "P2D", "on_reply": "continue", "on_timeout": "exit"}, send()]}
    )


def test_steps_after_setting_an_exit_stage_can_never_be_reached():
    errors = errors_of({"steps": [send(), {"type": "set_status", "status": "lost"}, send()]})
    assert "status 'lost' is stage 'lost', which is in exit_on_stages" in errors["steps[2]"]
    # Not an exit stage for this sequence: the steps after it run.
    parse_definition(
        {
            "steps": [send(), {"type": "set_status", "status": "lost"}, send()],
            "settings": {"exit_on_stages": ["won", "opted_out"]},
        }
    )


def test_tenant_statuses_map_onto_stages():
    tenant = {"hot": Stage.QUALIFIED, "closed_lost": Stage.LOST}
    errors = errors_of(
        {"steps": [{"type": "set_status", "status": "lost"}, {"type": "set_status", "status": "closed_lost"}, send()]},
        status_stages=tenant,
    )
    assert errors == {
        "steps[0].status": "unknown status 'lost'; use one of closed_lost, hot",
        "steps[2]": "this step can never be reached: steps[1] always ends the enrollment "
        "(status 'closed_lost' is stage 'lost', which is in exit_on_stages)",
    }


def test_send_needs_exactly_one_of_text_or_template():
    errors = errors_of(
        {
            "steps": [
                {"type": "send_whatsapp"},
                {"type": "send_whatsapp", "text": "x", "template": {"name": "t"}},
                {"type": "send_whatsapp", "text": "   "},
                {"type": "send_whatsapp", "template": {"name": "t"}, "fallback_template": {"name": "f"}},
            ]
        }
    )
    assert errors == {
        "steps[0].text": "set either text or template (exactly one)",
        "steps[1].text": "set either text or template (exactly one)",
        "steps[2].text": "the message text is empty",
        "steps[3].fallback_template": "a fallback template only applies to a text message",
    }


def test_business_hours_must_have_days_and_end_after_start():
    errors = errors_of(
        {"steps": [send()], "settings": {"business_hours": {"days": [], "start": "18:00", "end": "09:00"}}}
    )
    assert errors == {
        "settings.business_hours.days": "choose at least one day",
        "settings.business_hours.end": "end (09:00) must be after start (18:00)",
    }
    errors = errors_of({"steps": [send()], "settings": {"business_hours": {"days": ["mon", "funday"], "start": "9am"}}})
    assert errors.keys() == {"settings.business_hours.days[1]", "settings.business_hours.start"}


def test_unknown_stage_names_and_dropping_opted_out():
    errors = errors_of({"steps": [send()], "settings": {"exit_on_stages": ["won", "closed"]}})
    assert errors.keys() == {"settings.exit_on_stages[1]"}
    assert "'opted_out'" in errors["settings.exit_on_stages[1]"]
    errors = errors_of({"steps": [send()], "settings": {"exit_on_stages": ["won"]}})
    assert errors == {"settings.exit_on_stages": "must include 'opted_out': an opted-out lead is never contacted again"}


def test_unknown_fallback_timezone_and_bad_cap():
    errors = errors_of(
        {"steps": [send()], "settings": {"fallback_timezone": "Mars/Olympus", "daily_cap": {"whatsapp": 0}}}
    )
    assert errors["settings.fallback_timezone"] == "unknown time zone 'Mars/Olympus' (use e.g. Europe/London)"
    assert errors.keys() == {"settings.fallback_timezone", "settings.daily_cap.whatsapp"}


def test_shape_errors_point_at_the_step_not_at_the_union_member():
    errors = errors_of(
        {
            "steps": [
                send(),
                {"type": "fax"},
                {"text": "no type"},
                {"type": "task"},
                {"type": "wait", "duration": {"weeks": 1}},
            ]
        }
    )
    bad_type = (
        "unknown or missing step type; use one of send_whatsapp, wait, wait_for_reply, task, set_status, ai_message,"
        " call"
    )
    assert errors == {
        "steps[1].type": bad_type,
        "steps[2].type": bad_type,
        "steps[3].title": "required",
        "steps[4].duration.weeks": "unknown field",
    }


def test_shape_errors_do_not_hide_the_other_problems():
    # A malformed duration, an unknown time zone or a bad cap used to stop validation before the rules ran.
    with pytest.raises(SequenceDefinitionError) as caught:
        parse_definition(
            {
                "steps": [
                    send("Hi {{frist_name}}"),
                    {"type": "wait", "duration": "P1X"},
                    {"type": "task", "title": "Call {{fone}}", "due_in": "tomorrow", "colour": "red"},
                    {"type": "send_whatsapp", "template": {"name": "t"}, "fallback_template": {"name": "f"}},
                    {"type": "wait_for_reply", "timeout": 0, "on_reply": "maybe"},
                    {"type": "set_status", "status": "nope"},
                    send(id="has space"),
                ],
                "settings": {
                    "fallback_timezone": "Mars/Olympus",
                    "business_hours": {"start": "18:00", "end": "09:00"},
                    "daily_cap": {"whatsapp": 0},
                },
            }
        )
    details = caught.value.details
    assert [(d["path"], d["message"]) for d in details] == [
        ("steps[0].text", details[0]["message"]),
        ("steps[1].duration", "'P1X' is not an ISO-8601 duration such as P1DT2H or PT90M"),
        ("steps[2].due_in", "'tomorrow' is not an ISO-8601 duration such as P1DT2H or PT90M"),
        ("steps[2].colour", "unknown field"),
        ("steps[2].title", details[4]["message"]),
        ("steps[3].fallback_template", "a fallback template only applies to a text message"),
        ("steps[4].on_reply", details[6]["message"]),
        ("steps[4].timeout", "the duration must be longer than zero"),
        ("steps[5].status", details[8]["message"]),
        ("steps[6].id", "a step id is 1-64 letters, digits, '_', '-' or '.'"),
        ("settings.fallback_timezone", "unknown time zone 'Mars/Olympus' (use e.g. Europe/London)"),
        ("settings.daily_cap.whatsapp", details[11]["message"]),
        ("settings.business_hours.end", "end (09:00) must be after start (18:00)"),
    ]
    assert "unknown variable '{{frist_name}}'" in details[0]["message"]
    assert "unknown variable '{{fone}}'" in details[4]["message"]
    assert "'exit' or 'continue'" in details[6]["message"]
    assert "unknown status 'nope'" in details[8]["message"]
    assert details[11]["message"] == "must be at least 1"


def test_a_step_read_in_part_is_not_judged_on_the_fields_it_lost():
    # The refused template is not "missing": no "set either text or template" on top of the shape error, and a
    # refused business_hours.start is not compared with the end.
    errors = errors_of(
        {
            "steps": [{"type": "send_whatsapp", "template": {"name": ""}}],
            "settings": {"business_hours": {"start": "9am", "end": "08:00"}},
        }
    )
    assert errors.keys() == {"steps[0].template.name", "settings.business_hours.start"}


@pytest.mark.parametrize(
    ("key", "known"),
    [
        ("Europe/London", True),
        ("Asia/Calcutta", True),
        ("UTC", True),
        ("", False),
        ("Europe", False),
        ("../etc/passwd", False),
        ("zone.tab", False),
        ("utc", False),
    ],
)
def test_zone_exists(key, known):
    assert zone_exists(key) is known

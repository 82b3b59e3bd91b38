"""The preview of a 14-day sequence for a London lead: every step's UTC and local time and rendered text."""

from datetime import UTC, datetime

import pytest

from domain.sequences.definition import parse_definition
from domain.sequences.preview import preview

FOURTEEN_DAYS = {
    "steps": [
        {
            "id": "hello",
            "type": "send_whatsapp",
            "text": "Hi {{first_name|there}}, thanks for asking about {{custom.product}}!",
        },
        {"type": "wait", "duration": {"days": 2}},
        {
            "id": "intro",
            "type": "send_whatsapp",
            "template": {"name": "intro_offer", "language": "en_GB", "parameters": ["{{first_name}}"]},
        },
        {"type": "wait_for_reply", "timeout": "P3D"},
        {"id": "call", "type": "task", "title": "Call {{name}}", "due_in": {"days": 1}},
        {
            "id": "nudge",
            "type": "send_whatsapp",
            "text": "Still interested, {{first_name}}?",
            "fallback_template": {"name": "nudge"},
        },
        {"type": "wait", "duration": {"days": 4, "hours": 3}, "align_to_business_hours": True},
        {"id": "last", "type": "send_whatsapp", "text": "Last note from us, {{custom.agent|the team}}."},
        {"type": "wait_for_reply", "timeout": {"days": 3}},
        {"type": "set_status", "status": "unreachable"},
    ]
}

LEAD = {"first_name": "Ana", "last_name": "Silva", "custom": {"product": "solar panels"}}


def test_fourteen_day_sequence_timeline():
    definition = parse_definition(FOURTEEN_DAYS)
    # Monday 2026-10-19 08:30 BST: before opening. UK clocks go back on Sunday 25 October.
    rows = preview(
        definition, start_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC), lead_timezone="Europe/London", lead_fields=LEAD
    )
    got = [(r.id, r.fire_at_utc, r.fire_at_local, r.until_local, r.waited_for_business_hours) for r in rows]
    assert got == [
        ("hello", "2026-10-19T08:00:00Z", "2026-10-19T09:00:00+01:00", None, True),
        ("wait_1", "2026-10-19T08:00:00Z", "2026-10-19T09:00:00+01:00", "2026-10-21T09:00:00+01:00", False),
        ("intro", "2026-10-21T08:00:00Z", "2026-10-21T09:00:00+01:00", None, False),
        # no reply assumed: the timeout horizon
        ("wait_for_reply_1", "2026-10-21T08:00:00Z", "2026-10-21T09:00:00+01:00", "2026-10-24T09:00:00+01:00", False),
        # a task is not a contact: created on Saturday, due a calendar day later across the clock change
        ("call", "2026-10-24T08:00:00Z", "2026-10-24T09:00:00+01:00", "2026-10-25T09:00:00+00:00", False),
        # ready on Sunday: sent on Monday at opening, now GMT
        ("nudge", "2026-10-26T09:00:00Z", "2026-10-26T09:00:00+00:00", None, True),
        ("wait_2", "2026-10-26T09:00:00Z", "2026-10-26T09:00:00+00:00", "2026-10-30T12:00:00+00:00", False),
        ("last", "2026-10-30T12:00:00Z", "2026-10-30T12:00:00+00:00", None, False),
        ("wait_for_reply_2", "2026-10-30T12:00:00Z", "2026-10-30T12:00:00+00:00", "2026-11-02T12:00:00+00:00", False),
        ("set_status_1", "2026-11-02T12:00:00Z", "2026-11-02T12:00:00+00:00", None, False),
    ]
    assert [r.ends_enrollment for r in rows] == [False] * 9 + [True]


def test_preview_renders_each_message_for_the_lead():
    rows = {
        r.id: r
        for r in preview(
            parse_definition(FOURTEEN_DAYS),
            start_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC),
            lead_timezone="Europe/London",
            lead_fields=LEAD,
        )
    }
    assert rows["hello"].text == "Hi Ana, thanks for asking about solar panels!"
    assert rows["intro"].text is None
    assert rows["intro"].template is not None and rows["intro"].template.parameters == ["Ana"]
    assert rows["intro"].summary == "Send WhatsApp template 'intro_offer'"
    assert rows["call"].text == "Call Ana Silva"
    assert rows["nudge"].fallback_template is not None and rows["nudge"].fallback_template.name == "nudge"
    assert rows["last"].text == "Last note from us, the team." and rows["last"].missing_variables == ["custom.agent"]
    assert (
        rows["wait_for_reply_1"].summary == "Wait up to 3 d for a reply (reply: end the sequence; no reply: continue)"
    )


def test_the_same_sequence_for_a_lead_in_kolkata():
    rows = preview(
        parse_definition(FOURTEEN_DAYS),
        start_at=datetime(2026, 10, 19, 7, 30, tzinfo=UTC),
        lead_timezone="Asia/Kolkata",
        lead_fields={},
    )
    # 13:00 IST on Monday: open, sent at once.
    assert rows[0].fire_at_local == "2026-10-19T13:00:00+05:30" and not rows[0].waited_for_business_hours
    assert rows[0].text == "Hi there, thanks for asking about !"
    assert rows[0].missing_variables == ["first_name", "custom.product"]
    by_id = {r.id: r for r in rows}
    # The task is due Sunday 13:00: the nudge waits for Monday 09:00 IST; 4 d 3 h later is Friday 12:00 (open).
    assert by_id["nudge"].fire_at_local == "2026-10-26T09:00:00+05:30"
    assert by_id["last"].fire_at_local == "2026-10-30T12:00:00+05:30"
    assert rows[-1].fire_at_utc == "2026-11-02T06:30:00Z"


def test_preview_stops_where_a_timeout_exits():
    definition = parse_definition(
        {
            "steps": [
                {"type": "send_whatsapp", "text": "hi"},
                {"type": "wait_for_reply", "timeout": "P1D", "on_reply": "continue", "on_timeout": "exit"},
                {"type": "send_whatsapp", "text": "only after a reply"},
            ]
        }
    )
    rows = preview(definition, start_at=datetime(2026, 11, 25, 12, tzinfo=UTC), lead_timezone="UTC", lead_fields={})
    assert [r.type for r in rows] == ["send_whatsapp", "wait_for_reply"]
    assert rows[-1].ends_enrollment and rows[-1].until_utc == "2026-11-26T12:00:00Z"


def test_start_at_must_be_aware():
    with pytest.raises(ValueError, match="start_at must be timezone-aware"):
        preview(parse_definition(FOURTEEN_DAYS), start_at=datetime(2026, 10, 19), lead_timezone="UTC", lead_fields={})

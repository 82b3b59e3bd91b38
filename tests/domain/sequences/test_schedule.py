"""Business hours in the lead's own zone (weekends, days off, DST), waits, the daily cap and pacing.

Dates: 2026-03-08 US clocks go forward; 2026-10-25 UK clocks go back; 2026-11-27 is a Friday.
"""

from datetime import UTC, datetime, timedelta

import pytest

from core.phone import timezone_for_phone
from domain.sequences.definition import BusinessHours, parse_definition
from domain.sequences.schedule import (
    add_duration,
    daily_cap_decision,
    in_business_hours,
    next_index,
    next_window_start,
    pacing_delay,
    plan_step,
    tenant_day_bounds,
    zone,
)
from domain.sequences.steps import Duration

WEEKDAYS = BusinessHours()
SUN_TO_THU = BusinessHours(days=["sun", "mon", "tue", "wed", "thu"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "ready", "hours", "fires", "local"),
    [
        # +1 New York, Saturday noon (weekend) -> Monday 09:00, after the spring-forward Sunday: EDT (UTC-4)
        ("+12125550123", utc(2026, 3, 7, 17), WEEKDAYS, utc(2026, 3, 9, 13), "2026-03-09T09:00:00-04:00"),
        # +1 Los Angeles, Wednesday 07:00 PST: later the same morning
        ("+13105550123", utc(2026, 11, 25, 15), WEEKDAYS, utc(2026, 11, 25, 17), "2026-11-25T09:00:00-08:00"),
        # +44 London, Friday 19:00 BST (after hours) -> Monday 09:00 GMT, after the clocks went back on Sunday
        ("+442079460000", utc(2026, 10, 23, 18), WEEKDAYS, utc(2026, 10, 26, 9), "2026-10-26T09:00:00+00:00"),
        # +972 Jerusalem with a Mon-Fri tenant: Friday 10:00 is open...
        ("+97226234567", utc(2026, 11, 27, 8), WEEKDAYS, utc(2026, 11, 27, 8), "2026-11-27T10:00:00+02:00"),
        # ...with a Sun-Thu tenant (the Israeli week is a setting, not a guess): Sunday 09:00
        ("+97226234567", utc(2026, 11, 27, 8), SUN_TO_THU, utc(2026, 11, 29, 7), "2026-11-29T09:00:00+02:00"),
        # +91 Kolkata (UTC+5:30), Friday 10:30: at once
        ("+919812345678", utc(2026, 11, 27, 5), WEEKDAYS, utc(2026, 11, 27, 5), "2026-11-27T10:30:00+05:30"),
        # +91 Kolkata, Friday 18:30 (closed) -> Monday 09:00 IST
        ("+919812345678", utc(2026, 11, 27, 13), WEEKDAYS, utc(2026, 11, 30, 3, 30), "2026-11-30T09:00:00+05:30"),
    ],
)
def test_a_send_fires_inside_the_leads_business_hours(phone, ready, hours, fires, local):
    tz = zone(timezone_for_phone(phone, fallback="UTC"))
    assert next_window_start(ready, tz, hours) == fires
    assert fires.astimezone(tz).isoformat() == local
    assert in_business_hours(fires, tz, hours)


def test_window_edges_are_start_inclusive_end_exclusive():
    tz = zone("Europe/London")
    opening, closing = utc(2026, 11, 25, 9), utc(2026, 11, 25, 18)
    assert next_window_start(opening, tz, WEEKDAYS) == opening
    assert next_window_start(closing - timedelta(seconds=1), tz, WEEKDAYS) == closing - timedelta(seconds=1)
    assert next_window_start(closing, tz, WEEKDAYS) == utc(2026, 11, 26, 9)


def test_a_single_open_day_a_week_ahead():
    tz = zone("Asia/Kolkata")
    only_monday = BusinessHours(days=["mon"], start="10:00", end="11:00")
    # Monday 11:00 IST (just closed) -> next Monday 10:00 IST
    assert next_window_start(utc(2026, 11, 30, 5, 30), tz, only_monday) == utc(2026, 12, 7, 4, 30)


def test_an_opening_inside_the_dst_gap_moves_forward_by_the_gap():
    tz = zone("America/New_York")
    early = BusinessHours(days=["sun"], start="02:30", end="06:00")
    # 02:30 does not exist on 2026-03-08 in New York: the window opens at 03:30 EDT.
    opens = next_window_start(utc(2026, 3, 8, 5), tz, early)
    assert opens.astimezone(tz).isoformat() == "2026-03-08T03:30:00-04:00"


def test_a_day_is_a_calendar_day_in_the_leads_zone_across_dst():
    ny = zone("America/New_York")
    # Saturday 10:00 EST + 1 day = Sunday 10:00 EDT: 23 hours later.
    assert add_duration(utc(2026, 3, 7, 15), Duration(days=1), ny) == utc(2026, 3, 8, 14)
    # Hours are elapsed time: + 24 h lands at 11:00 EDT.
    assert add_duration(utc(2026, 3, 7, 15), Duration(hours=24), ny).astimezone(ny).hour == 11
    london = zone("Europe/London")
    # Saturday 09:00 BST + 1 day = Sunday 09:00 GMT: 25 hours later.
    assert add_duration(utc(2026, 10, 24, 8), Duration(days=1), london) == utc(2026, 10, 25, 9)


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_window_start(datetime(2026, 1, 1, 12), zone("UTC"), WEEKDAYS)


def test_plan_of_a_wait_aligned_to_business_hours():
    definition = parse_definition(
        {
            "steps": [
                {"type": "wait", "duration": {"days": 1}, "align_to_business_hours": True},
                {"type": "wait", "duration": {"hours": 2}},
            ]
        }
    )
    friday_evening = utc(2026, 11, 27, 22)  # 17:00 in New York
    aligned = plan_step(definition, 0, ready_at=friday_evening, timezone="America/New_York")
    # A wait acts at once; Saturday 17:00 is closed, so it holds until Monday 09:00 EST.
    assert (aligned.fire_at, aligned.release_at, aligned.deferred) == (friday_evening, utc(2026, 11, 30, 14), False)
    plain = plan_step(definition, 1, ready_at=friday_evening, timezone="America/New_York")
    assert plain.release_at == utc(2026, 11, 28, 0) and plain.ends_enrollment


def test_next_index_follows_replies_timeouts_and_exit_stages():
    definition = parse_definition(
        {
            "steps": [
                {"type": "wait", "duration": 60},
                {"type": "wait_for_reply", "timeout": 60, "on_reply": "continue", "on_timeout": "exit"},
                {"type": "set_status", "status": "won"},
            ]
        }
    )
    assert next_index(definition, 0, replied=False) == 1
    assert next_index(definition, 0, replied=True) is None  # exit_on_reply (default)
    assert next_index(definition, 1, replied=True) == 2  # the step's own on_reply wins while it waits
    assert next_index(definition, 1, replied=False) is None  # on_timeout: exit
    assert next_index(definition, 2, replied=False) is None  # won is an exit stage (and it is the last step)
    keep_going = definition.model_copy(
        update={"settings": definition.settings.model_copy(update={"exit_on_reply": False})}
    )
    assert next_index(keep_going, 0, replied=True) == 1


# --- daily cap ---------------------------------------------------------------------------------------------------


def test_under_the_cap_or_without_a_cap_sends_now():
    common = {"now": utc(2026, 11, 27, 12), "tenant_timezone": "Europe/London", "lead_timezone": "Europe/London"}
    assert daily_cap_decision(sent_today=99, cap=100, business_hours=WEEKDAYS, **common).send_now
    assert daily_cap_decision(sent_today=10_000, cap=None, business_hours=WEEKDAYS, **common).send_now


def test_over_the_cap_on_friday_defers_to_mondays_window_never_drops():
    decision = daily_cap_decision(
        now=utc(2026, 11, 27, 15),
        sent_today=100,
        cap=100,
        tenant_timezone="Europe/London",
        lead_timezone="Europe/London",
        business_hours=WEEKDAYS,
    )
    assert not decision.send_now
    assert decision.defer_until == utc(2026, 11, 30, 9)
    assert decision.reason == "daily cap of 100 reached (100 sent today); deferred to 2026-11-30T09:00:00+00:00"


def test_the_cap_day_is_the_tenants_day_and_the_window_the_leads():
    # Tenant in Jerusalem: its day ends at 22:00 UTC, which is 17:00 on Friday in New York — still open there.
    decision = daily_cap_decision(
        now=utc(2026, 11, 27, 20),
        sent_today=5,
        cap=5,
        tenant_timezone="Asia/Jerusalem",
        lead_timezone="America/New_York",
        business_hours=WEEKDAYS,
    )
    assert decision.defer_until == utc(2026, 11, 27, 22)


def test_tenant_day_bounds_follow_dst():
    start, end = tenant_day_bounds(utc(2026, 10, 25, 12), "Europe/London")
    assert (start, end) == (utc(2026, 10, 24, 23), utc(2026, 10, 26, 0))  # a 25-hour day


def test_pacing_spreads_a_bulk_start():
    assert [pacing_delay(i, 30) for i in range(3)] == [timedelta(0), timedelta(seconds=2), timedelta(seconds=4)]
    assert pacing_delay(1000, None) == timedelta(0)

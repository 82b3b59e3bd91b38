"""When each step of an enrollment acts: business hours in the lead's zone, waits, daily caps, pacing.

Pure and deterministic: no clock (every function takes the instant it reasons about) and no phone lookup. The
workflow passes `workflow.now()`, the preview passes the requested start; both walk the steps with `plan_step` and
`next_index`, so the timeline the preview shows is the one the workflow follows.

The lead's zone is an IANA key resolved OUTSIDE the workflow (`core.phone.timezone_for_phone(phone,
fallback=settings.fallback_timezone or tenant zone)`) and frozen into the enrollment's input: phonenumbers loads
per-region metadata lazily (costly to re-import in every sandboxed run), and a library update that re-mapped a
number's zone would otherwise change the timers of a running enrollment on replay.

Rules:
- A step that contacts the lead (`send_whatsapp`, later `call`, `ai_message`) fires at once when the lead's local
  time is inside business hours (open day, start <= time < end), else at the next window opening; days off are
  skipped. Other steps (`wait`, `wait_for_reply`, `task`, `set_status`) act at once.
- A hold (wait duration, reply timeout, task due) counts its days as calendar days in the lead's zone (10:00 + 1 day
  is 10:00 the next day across a DST change) and hours/minutes/seconds as elapsed time. A `wait` with
  `align_to_business_hours` ends no earlier than the next window opening after that.
- Steps chain on planned times: the next step is ready at the previous step's `release_at`, not at the clock after
  an activity, so activity latency never shifts the timeline. An event (a reply the step continues on, a task done
  early, a cap deferral) replaces the planned time with the event's time.
- Wall times that do not exist (DST gap) move forward by the gap; ambiguous ones (DST fold) take the first.
- Daily cap: the tenant's day runs midnight to midnight in the tenant's zone. Over the cap a send is deferred to
  the lead's first business-hours opening at or after the next tenant midnight, then re-checked; never dropped.
"""

import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from domain.sequences.definition import DEFAULT_STATUS_STAGES, BusinessHours, SequenceDefinition
from domain.sequences.steps import Duration, StepBase
from domain.stages import Stage


def zone(key: str) -> zoneinfo.ZoneInfo:
    """The zone of an IANA key. Works inside the Temporal workflow sandbox (see below)."""
    tz = zoneinfo.ZoneInfo(key)
    if not issubclass(type(tz), tzinfo):
        # The workflow sandbox restricts a few ZoneInfo class methods (clear_cache, from_file, reset_tzpath) and
        # therefore hands back the instance wrapped in a restricted proxy, which datetime's C code refuses as a
        # tzinfo. `__class__` passes through the proxy to the real class, whose (cached) instance is the real one.
        tz = tz.__class__(key)
    return tz


def _aware(instant: datetime, what: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got {instant.isoformat()})")
    return instant.astimezone(UTC)


def local_instant(day: date, wall: time, tz: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time in `tz` (gap: moved forward by the gap; fold: the first occurrence)."""
    return datetime.combine(day, wall).replace(tzinfo=tz, fold=0).astimezone(UTC)


def in_business_hours(instant: datetime, tz: zoneinfo.ZoneInfo, hours: BusinessHours) -> bool:
    local = _aware(instant).astimezone(tz)
    return local.weekday() in hours.weekdays and hours.start_time <= local.time() < hours.end_time


def next_window_start(instant: datetime, tz: zoneinfo.ZoneInfo, hours: BusinessHours) -> datetime:
    """`instant` (UTC) when it is inside business hours, else the next opening of a window, in UTC."""
    instant = _aware(instant)
    today = instant.astimezone(tz).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if day.weekday() not in hours.weekdays:
            continue
        opens, closes = local_instant(day, hours.start_time, tz), local_instant(day, hours.end_time, tz)
        if instant < opens:
            return opens
        if instant < closes:
            return instant
    raise ValueError("business hours have no open day")


def add_duration(instant: datetime, duration: Duration, tz: zoneinfo.ZoneInfo) -> datetime:
    """`instant` + `duration`: days as calendar days in `tz`, the rest as elapsed time. UTC."""
    instant = _aware(instant)
    if duration.days:
        local = instant.astimezone(tz)
        wall = local.replace(tzinfo=None) + timedelta(days=duration.days)
        instant = wall.replace(tzinfo=tz, fold=local.fold).astimezone(UTC)
    return instant + duration.elapsed


def next_fire_time(step: StepBase, ready_at: datetime, tz: zoneinfo.ZoneInfo, hours: BusinessHours) -> datetime:
    """When `step`, ready at `ready_at`, acts: business hours apply to steps that contact the lead."""
    return next_window_start(ready_at, tz, hours) if step.contacts_lead else _aware(ready_at, "ready_at")


def release_time(step: StepBase, fired_at: datetime, tz: zoneinfo.ZoneInfo, hours: BusinessHours) -> datetime:
    """When the step after `step` becomes ready, assuming nothing happens during the hold."""
    hold = step.holds_for()
    released = add_duration(fired_at, hold, tz) if hold is not None else _aware(fired_at, "fired_at")
    return next_window_start(released, tz, hours) if step.aligns_release() else released


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step of an enrollment's timeline. All instants UTC."""

    index: int
    step: StepBase
    ready_at: datetime  # the previous step released it
    fire_at: datetime  # it acts (moved into business hours when it contacts the lead)
    release_at: datetime  # the next step is ready, assuming no event during the hold
    ends_enrollment: bool  # nothing follows, assuming no event (last step, or an unconditional/timeout exit)

    @property
    def deferred(self) -> bool:
        """Outside business hours when ready: it waits for the next window."""
        return self.fire_at != self.ready_at


def plan_step(
    definition: SequenceDefinition,
    index: int,
    *,
    ready_at: datetime,
    timezone: str,
    status_stages: Mapping[str, Stage] | None = None,
) -> StepPlan:
    """The plan of step `index` when it becomes ready at `ready_at`, for a lead in `timezone` (IANA key)."""
    tz = zone(timezone)
    hours = definition.settings.business_hours
    step = definition.steps[index]
    fire_at = next_fire_time(step, ready_at, tz, hours)
    release_at = release_time(step, fire_at, tz, hours)
    return StepPlan(
        index=index,
        step=step,
        ready_at=_aware(ready_at, "ready_at"),
        fire_at=fire_at,
        release_at=release_at,
        ends_enrollment=next_index(definition, index, replied=False, status_stages=status_stages) is None,
    )


def next_index(
    definition: SequenceDefinition,
    index: int,
    *,
    replied: bool,
    status_stages: Mapping[str, Stage] | None = None,
) -> int | None:
    """The step after step `index` finished (`replied`: the lead replied during it), or None: the enrollment ends.

    A reply during a `wait_for_reply` follows its `on_reply`; a reply during any other step ends the enrollment when
    `exit_on_reply` is set. A `wait_for_reply` that timed out follows `on_timeout`; a `set_status` to a stage in
    `exit_on_stages` ends it.
    """
    settings = definition.settings
    step = definition.steps[index]
    on_reply = getattr(step, "on_reply", None)
    if replied and (on_reply == "exit" or (on_reply is None and settings.exit_on_reply)):
        return None
    if not replied and getattr(step, "on_timeout", None) == "exit":
        return None
    stages = DEFAULT_STATUS_STAGES if status_stages is None else status_stages
    if step.exits_after(exit_stages=settings.exit_on_stages, status_stages=stages):
        return None
    return index + 1 if index + 1 < len(definition.steps) else None


def timeline(
    definition: SequenceDefinition,
    *,
    start_at: datetime,
    timezone: str,
    status_stages: Mapping[str, Stage] | None = None,
) -> Iterator[StepPlan]:
    """Every step's plan from `start_at`, assuming no reply and every task done at its due time."""
    index: int | None = 0 if definition.steps else None
    ready_at = _aware(start_at, "start_at")
    while index is not None:
        plan = plan_step(definition, index, ready_at=ready_at, timezone=timezone, status_stages=status_stages)
        yield plan
        index = None if plan.ends_enrollment else index + 1
        ready_at = plan.release_at


# --- daily cap and pacing ------------------------------------------------------------------------------------------


def tenant_day(now: datetime, tenant_timezone: str) -> date:
    """The tenant's local date at `now`: the day whose daily cap a send at `now` counts against."""
    return _aware(now, "now").astimezone(zone(tenant_timezone)).date()


def tenant_day_bounds(now: datetime, tenant_timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the tenant's current day, in UTC: the span whose sends count against the daily cap."""
    tz = zone(tenant_timezone)
    today = _aware(now, "now").astimezone(tz).date()
    return local_instant(today, time(0), tz), local_instant(today + timedelta(days=1), time(0), tz)


@dataclass(frozen=True, slots=True)
class CapDecision:
    send_now: bool
    defer_until: datetime | None = None  # UTC; re-check the cap then
    reason: str | None = None


def daily_cap_decision(
    *,
    now: datetime,
    sent_today: int,
    cap: int | None,
    tenant_timezone: str,
    lead_timezone: str,
    business_hours: BusinessHours,
) -> CapDecision:
    """Send now, or defer to the lead's first business-hours opening of the tenant's next day (never drop).

    `sent_today` counts the tenant's sends on this channel within `tenant_day_bounds(now, tenant_timezone)`.
    """
    if cap is None or sent_today < cap:
        return CapDecision(send_now=True)
    _, tomorrow = tenant_day_bounds(now, tenant_timezone)
    defer_until = next_window_start(tomorrow, zone(lead_timezone), business_hours)
    return CapDecision(
        send_now=False,
        defer_until=defer_until,
        reason=f"daily cap of {cap} reached ({sent_today} sent today); deferred to {defer_until.isoformat()}",
    )


def pacing_delay(position: int, per_minute: int | None) -> timedelta:
    """How long after a bulk enrollment begins its `position`-th lead (0-based) starts, at `per_minute` a minute."""
    if per_minute is None or position <= 0:
        return timedelta(0)
    return timedelta(seconds=position * 60 / per_minute)

"""A sequence definition (steps + settings) and its validation on save.

Pure. `parse_definition(data)` is the one entry point for untrusted input (the API on create/update/publish): it
parses the discriminated union, assigns missing step ids, checks every rule below and raises one
`SequenceDefinitionError` carrying ALL problems as `{path, message}` (`path` like `steps[2].text`,
`settings.business_hours.end`), so the builder can mark every bad field at once. A shape error (a malformed
duration, an unknown time zone, a missing field) does not hide the rest: each step and the settings are then read
again on their own, without the refused fields, and the rules run on what could be read. A workflow re-reads a
stored, already validated definition with `SequenceDefinition.model_validate` (no tenant lookups needed).

Rules: at least one step and at most `MAX_STEPS`; step ids unique and made of letters, digits, `_`, `-`, `.`;
a send has exactly one of text or template (a fallback template only for text); an AI message has instructions
and a fallback text that are not blank; every `{{variable}}` known;
durations positive, no negative part, at most `MAX_DURATION`; no step after an unconditional end (a
`wait_for_reply` exiting on reply AND on timeout, a `set_status` to a stage in `exit_on_stages`); `set_status`
names a known status; `exit_on_stages` keeps `opted_out` (an opted-out lead is never contacted again); business
hours have days and end after start; the fallback time zone exists.
"""

import json
import re
import zoneinfo
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from core.errors import Unprocessable
from core.validation_messages import plain_reason, readable_pattern
from domain.sequences.steps import (
    AiMessageStep,
    CallStep,
    Duration,
    SendWhatsAppStep,
    SetStatusStep,
    Step,
    StepBase,
    WaitForReplyStep,
    step_types,
)
from domain.sequences.variables import check_text
from domain.stages import DEFAULT_STATUSES, Stage

MAX_STEPS = 50
MAX_STEPS_READ = 4 * MAX_STEPS  # longer step lists are refused unread: only absurd payloads are that long
MAX_DURATION = timedelta(days=365)
DEFAULT_STATUS_STAGES: dict[str, Stage] = {key: stage for key, _label, stage in DEFAULT_STATUSES}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = readable_pattern(r"^([01]\d|2[0-3]):[0-5]\d$", "a time as HH:MM, such as 09:00")
_STEP_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class BusinessHours(BaseModel):
    """When the lead may be contacted, in the lead's own local time. A Fri/Sat weekend is set here, per tenant."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = Field(default="09:00", pattern=_HHMM, description="HH:MM, lead-local")
    end: str = Field(default="18:00", pattern=_HHMM, description="HH:MM, lead-local, after start")

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    @property
    def weekdays(self) -> frozenset[int]:
        """Python weekday numbers (Monday 0) of the open days."""
        return frozenset(WEEKDAYS.index(d) for d in self.days)


class DailyCaps(BaseModel):
    """Most sends per channel per tenant day (the tenant's local day); None means no cap. Excess is deferred."""

    model_config = ConfigDict(extra="forbid")

    whatsapp: int | None = Field(default=None, ge=1, le=1_000_000)

    def for_channel(self, channel: str | None) -> int | None:
        """The cap of `channel` (a step's `capped_channel`); None when it has none."""
        cap = getattr(self, channel, None) if channel else None
        return cap if isinstance(cap, int) else None


class SendPacing(BaseModel):
    """Spread a bulk start: at most `per_minute` enrollments of this sequence start per minute (None: no pacing)."""

    model_config = ConfigDict(extra="forbid")

    per_minute: int | None = Field(default=None, ge=1, le=100_000)


class SequenceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exit_on_reply: bool = True
    exit_on_stages: list[Stage] = Field(default_factory=lambda: [Stage.WON, Stage.LOST, Stage.OPTED_OUT])
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    fallback_timezone: str | None = Field(
        default=None, description="IANA zone when the phone number does not tell; None: the tenant's zone"
    )
    daily_cap: DailyCaps = Field(default_factory=DailyCaps)
    send_pacing: SendPacing = Field(default_factory=SendPacing)

    @field_validator("fallback_timezone")
    @classmethod
    def _known_zone(cls, key: str | None) -> str | None:
        if key is not None and not zone_exists(key):
            raise ValueError(f"unknown time zone '{key}' (use e.g. Europe/London)")
        return key


class SequenceDefinition(BaseModel):
    """What an owner edits and a version freezes. Steps without an id get `<type>_<n>` (first free n)."""

    model_config = ConfigDict(extra="forbid")

    # The hard bound only stops absurd payloads before they are parsed; MAX_STEPS is the rule a person sees.
    steps: list[Step] = Field(max_length=MAX_STEPS_READ)
    settings: SequenceSettings = Field(default_factory=SequenceSettings)

    @model_validator(mode="after")
    def _assign_ids(self) -> "SequenceDefinition":
        taken = {s.id for s in self.steps if s.id}
        counters: dict[str, int] = {}
        for step in self.steps:
            if step.id:
                continue
            n = counters.get(step.type, 0) + 1
            while f"{step.type}_{n}" in taken:
                n += 1
            counters[step.type] = n
            step.id = f"{step.type}_{n}"
            taken.add(step.id)
        return self

    def step_index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)


class DefinitionError(BaseModel):
    path: str  # "steps[2].text", "settings.business_hours.end", "steps"
    message: str


def _document_order(error: DefinitionError) -> tuple[int, int]:
    """Steps in order, then settings, then the rest: shape and rule errors of one step side by side."""
    found = re.match(r"steps\[(\d+)\]", error.path)
    if found:
        return 0, int(found.group(1))
    if error.path == "steps":
        return 0, -1
    return (1, 0) if error.path.startswith("settings") else (2, 0)


class SequenceDefinitionError(Unprocessable):
    """Every problem of a definition at once (HTTP 422; `details` lists `{path, message}`, steps in order)."""

    code = "invalid_sequence"

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = sorted(errors, key=_document_order)
        # Every problem in the message too, each once: a summary cut at three hid the rest behind "(and 2 more)".
        count = "1 problem" if len(self.errors) == 1 else f"{len(self.errors)} problems"
        listed = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        super().__init__(f"the sequence has {count}: {listed}", details=[e.model_dump() for e in self.errors])


def parse_definition(data: Any, *, status_stages: Mapping[str, Stage] | None = None) -> SequenceDefinition:
    """Parse and validate untrusted input (a mapping or JSON text); raise `SequenceDefinitionError` with all errors.

    `status_stages` maps the tenant's status keys to their stages (default: the built-in statuses).
    """
    try:
        if isinstance(data, str | bytes):
            definition = SequenceDefinition.model_validate_json(data)
        else:
            definition = SequenceDefinition.model_validate(data)
    except ValidationError as exc:
        errors = _from_pydantic(exc) + _rule_errors_of_readable_parts(data, status_stages)
        raise SequenceDefinitionError(errors) from None
    errors = definition_errors(definition, status_stages=status_stages)
    if errors:
        raise SequenceDefinitionError(errors)
    return definition


_STEP = TypeAdapter(Step)


def _rule_errors_of_readable_parts(data: Any, status_stages: Mapping[str, Stage] | None) -> list[DefinitionError]:
    """The rules' errors in what a definition that failed to parse still lets us read (see the module docstring)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return []  # not JSON: the shape error says so
    if not isinstance(data, Mapping):
        return []
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or len(raw_steps) > MAX_STEPS_READ:
        return []
    steps = [_readable_step(raw) for raw in raw_steps]
    return _rule_errors(steps, _readable_settings(data.get("settings", {})), status_stages)


def _readable_step(raw: Any) -> tuple[StepBase, bool] | None:
    """(step, True) when `raw` parses on its own; (step, False) when it parses without its refused fields; else None."""
    try:
        return _STEP.validate_python(raw), True
    except ValidationError as exc:
        # Locations start with the union tag: ("task", "due_in", ...). A shorter one: the step type is unreadable.
        locations = [err["loc"] for err in exc.errors()]
    if not isinstance(raw, Mapping) or any(len(loc) < 2 for loc in locations):
        return None
    refused = {loc[1] for loc in locations}
    try:
        return _STEP.validate_python({k: v for k, v in raw.items() if k not in refused}), False
    except ValidationError:
        return None  # a required field was refused


def _readable_settings(raw: Any) -> SequenceSettings:
    """The settings, without the refused fields (their defaults instead); the defaults when nothing is readable."""
    if not isinstance(raw, Mapping):
        return SequenceSettings()
    try:
        return SequenceSettings.model_validate(raw)
    except ValidationError as exc:
        refused = {err["loc"][0] for err in exc.errors() if err["loc"]}
    try:
        return SequenceSettings.model_validate({k: v for k, v in raw.items() if k not in refused})
    except ValidationError:
        return SequenceSettings()


def _from_pydantic(exc: ValidationError) -> list[DefinitionError]:
    step_tags = set(step_types())
    errors = []
    for err in exc.errors():
        loc = list(err["loc"])
        # The discriminated union adds the step type to the location: steps.2.send_whatsapp.text -> steps[2].text
        path = ""
        previous: Any = None
        for part in loc:
            if isinstance(previous, int) and part in step_tags:
                previous = part
                continue
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
            previous = part
        message = plain_reason(err)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ".type"
            message = f"unknown or missing step type; use one of {', '.join(step_types())}"
        elif path == "steps" and err["type"] == "too_long":
            message = f"a sequence has at most {MAX_STEPS} steps"
        errors.append(DefinitionError(path=path or "definition", message=message))
    return errors


def definition_errors(
    definition: SequenceDefinition, *, status_stages: Mapping[str, Stage] | None = None
) -> list[DefinitionError]:
    """Every rule of the module docstring that `definition` breaks (empty: valid)."""
    return _rule_errors([(step, True) for step in definition.steps], definition.settings, status_stages)


def _rule_errors(
    steps: list[tuple[StepBase, bool] | None],
    settings: SequenceSettings,
    status_stages: Mapping[str, Stage] | None,
) -> list[DefinitionError]:
    """The rules over `steps`: each a step read whole (True), read without its refused fields (False), or None.

    A step read in part is checked field by field only (id, texts, durations): rules across its fields or across
    steps would judge defaults the person never wrote.
    """
    stages = dict(DEFAULT_STATUS_STAGES if status_stages is None else status_stages)
    errors: list[DefinitionError] = []

    def add(path: str, message: str) -> None:
        errors.append(DefinitionError(path=path, message=message))

    if not steps:
        add("steps", "a sequence needs at least one step")
    if len(steps) > MAX_STEPS:
        add("steps", f"a sequence has at most {MAX_STEPS} steps (this one has {len(steps)})")

    seen: dict[str, int] = {}
    ended_by: tuple[int, str] | None = None
    for i, read in enumerate(steps):
        at = f"steps[{i}]"
        if ended_by is not None:
            add(at, f"this step can never be reached: steps[{ended_by[0]}] always ends the enrollment ({ended_by[1]})")
        if read is None:
            continue
        step, whole = read
        if step.id is not None:
            if not _STEP_ID.fullmatch(step.id):
                add(f"{at}.id", "a step id is 1-64 letters, digits, '_', '-' or '.'")
            if step.id in seen:
                add(f"{at}.id", f"duplicate step id '{step.id}' (also steps[{seen[step.id]}])")
            seen.setdefault(step.id, i)
        _check_fields(step, at, add)
        if not whole:
            continue
        _check_step(step, at, stages, add)
        if ended_by is None and step.exits_after(exit_stages=settings.exit_on_stages, status_stages=stages):
            ended_by = (i, _end_reason(step, stages))

    _check_settings(settings, add)
    return errors


def _end_reason(step: StepBase, stages: Mapping[str, Stage]) -> str:
    if isinstance(step, WaitForReplyStep):
        return "it exits on reply and on timeout"
    if isinstance(step, SetStatusStep):
        return f"status '{step.status}' is stage '{stages[step.status]}', which is in exit_on_stages"
    if isinstance(step, CallStep):
        return "it exits whatever the call's outcome"
    return "it always exits"


def _check_fields(step: StepBase, at: str, add: Any) -> None:
    """The rules of single fields: variables in texts, durations."""
    for field, text in step.texts():
        for problem in check_text(text):
            add(f"{at}.{field}", problem)
    for field in type(step).model_fields:
        value = getattr(step, field)
        if isinstance(value, Duration):
            _check_duration(value, f"{at}.{field}", add)


def _check_step(step: StepBase, at: str, stages: Mapping[str, Stage], add: Any) -> None:
    """The rules across a step's fields and against the tenant's statuses."""
    if isinstance(step, SendWhatsAppStep):
        if (step.text is None) == (step.template is None):
            add(f"{at}.text", "set either text or template (exactly one)")
        elif step.text is not None and not step.text.strip():
            add(f"{at}.text", "the message text is empty")
        if step.template is not None and step.fallback_template is not None:
            add(f"{at}.fallback_template", "a fallback template only applies to a text message")
    if isinstance(step, AiMessageStep):
        if not step.instructions.strip():
            add(f"{at}.instructions", "the instructions are empty")
        if not step.fallback_text.strip():
            add(f"{at}.fallback_text", "the fallback text is empty")
    if isinstance(step, SetStatusStep) and step.status not in stages:
        known = ", ".join(sorted(stages))
        add(f"{at}.status", f"unknown status '{step.status}'; use one of {known}")


def _check_duration(value: Duration, path: str, add: Any) -> None:
    if min(value.days, value.hours, value.minutes, value.seconds) < 0:
        add(path, f"a duration cannot be negative ({value.describe()})")
    elif not value.positive:
        add(path, "the duration must be longer than zero")
    elif value.approximate > MAX_DURATION:
        add(path, f"a duration is at most {MAX_DURATION.days} days ({value.describe()})")


def _check_settings(settings: SequenceSettings, add: Any) -> None:
    if Stage.OPTED_OUT not in settings.exit_on_stages:
        add("settings.exit_on_stages", "must include 'opted_out': an opted-out lead is never contacted again")
    hours = settings.business_hours
    if not hours.days:
        add("settings.business_hours.days", "choose at least one day")
    if len(set(hours.days)) != len(hours.days):
        add("settings.business_hours.days", "a day is listed twice")
    if hours.end_time <= hours.start_time:
        add("settings.business_hours.end", f"end ({hours.end}) must be after start ({hours.start})")


def zone_exists(key: str) -> bool:
    """True when `key` names an IANA zone this machine knows (callers check a lead or tenant zone with it)."""
    try:
        zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True

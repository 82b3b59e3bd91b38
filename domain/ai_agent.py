"""The AI agent's pure rules: modes, tools, who handles a conversation, answering hours. No I/O, safe in workflows."""

from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class AgentMode(StrEnum):
    OFF = "off"  # the agent never answers
    DRAFT = "draft"  # every reply waits as a draft for a person to approve, edit or reject
    AUTO = "auto"  # replies are sent (unless the facts guardrail turns one into a draft)


class AgentTool(StrEnum):
    GET_LEAD = "get_lead"
    SET_STATUS = "set_status"
    HANDOFF_TO_HUMAN = "handoff_to_human"
    SCHEDULE_CALLBACK = "schedule_callback"
    STOP_SEQUENCES = "stop_sequences"


class ConversationHandler(StrEnum):
    """Who answers the lead. `unassigned` and `ai` get AI replies when the tenant's agent is on; `human` never does.

    A person's manual message or a handoff makes it `human`; an agent hands it back with `ai`.
    """

    UNASSIGNED = "unassigned"
    AI = "ai"
    HUMAN = "human"


class AnswerHours(BaseModel):
    """When the agent may answer, in the lead's local time. A message outside them is answered at the next opening."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: tuple[str, ...] = Field(default=WEEKDAYS, min_length=1)
    # Local wall-clock times without an offset: RFC 3339's partial-time, not JSON Schema's `time` (which needs one).
    start: time = Field(default=time(0, 0), json_schema_extra={"format": "partial-time"})
    end: time = Field(default=time(23, 59, 59), json_schema_extra={"format": "partial-time"})

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without a zone: the hours are in the lead's own time zone")
        return value

    @model_validator(mode="after")
    def _check(self) -> "AnswerHours":
        unknown = [day for day in self.days if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}: use {', '.join(WEEKDAYS)}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def next_opening(self, at: datetime, zone: str) -> datetime | None:
        """None when `at` (aware) is inside the hours, else the next opening as an aware UTC-comparable time."""
        local = at.astimezone(ZoneInfo(zone))
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opens = datetime.combine(day, self.start, tzinfo=local.tzinfo)
            closes = datetime.combine(day, self.end, tzinfo=local.tzinfo)
            if offset == 0 and opens <= local < closes:
                return None
            if local < opens:
                return opens
        return None  # unreachable with at least one day; answering now is the safe reading

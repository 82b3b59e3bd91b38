"""The typed steps of an outreach sequence: one pydantic model per step type, joined in a discriminated union.

Pure. Every step has `type` (the discriminator), a stable `id` (unique in its sequence; assigned on save when absent)
and an optional `name`. Each step class also states, for the scheduler and the validator, how it behaves:

- `contacts_lead` — it reaches the lead, so it fires only inside the lead's business hours;
- `holds_for()` — how long the sequence stays on it before the next step, assuming nothing happens (no reply,
  task done at its due time); `None` means it releases as soon as it has fired; `aligns_release()` — the hold ends
  no earlier than the next business-hours opening;
- `exits_after(...)` — the enrollment ends after it unconditionally (the steps after it are unreachable);
- `texts()` — the texts carrying `{{variables}}`, with their field path, for checking and rendering.

Adding a step type is one class here and one entry in `Step`; the workflow side is
described in workflows/sequence.py.

Durations are written as an object `{"days": 1, "hours": 2, "minutes": 30, "seconds": 0}` (all optional, default 0),
a whole number of seconds (`5400`), or an ISO-8601 duration (`"P1DT2H30M"`, `"PT90M"`, `"P2W"`); they are stored
as the object form. Days are calendar days in the lead's zone (a 1-day wait from 10:00 ends at 10:00 the next
day even across a DST change); hours, minutes and seconds are elapsed time.
"""

import re
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.stages import Stage

_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


class Duration(BaseModel):
    """A span of time: calendar days plus elapsed hours/minutes/seconds. Validated > 0 by the definition check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Bounded so date arithmetic can never overflow; the sane limit (and > 0) is checked by the definition.
    days: int = Field(default=0, ge=-3650, le=3650)
    hours: int = Field(default=0, ge=-87_600, le=87_600)
    minutes: int = Field(default=0, ge=-5_256_000, le=5_256_000)
    seconds: int = Field(default=0, ge=-315_360_000, le=315_360_000)

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("a duration is an object {days, hours, minutes, seconds}, seconds, or ISO-8601")
        if isinstance(data, int):
            return {"seconds": data}
        if isinstance(data, str):
            text = data.strip().upper()
            match = _ISO_DURATION.fullmatch(text)
            if not match or text in ("P", "PT") or text.endswith("T"):
                raise ValueError(f"'{data}' is not an ISO-8601 duration such as P1DT2H or PT90M")
            parts = {k: int(v) for k, v in match.groupdict().items() if v}
            weeks = parts.pop("weeks", 0)
            parts["days"] = parts.get("days", 0) + 7 * weeks
            return parts
        return data

    @property
    def elapsed(self) -> timedelta:
        """The part measured as elapsed time (hours, minutes, seconds)."""
        return timedelta(hours=self.hours, minutes=self.minutes, seconds=self.seconds)

    @property
    def approximate(self) -> timedelta:
        """Days as 24 h: for limits and ordering only, never for scheduling."""
        return timedelta(days=self.days) + self.elapsed

    @property
    def positive(self) -> bool:
        return self.approximate > timedelta(0)

    def describe(self) -> str:
        parts = [(self.days, "d"), (self.hours, "h"), (self.minutes, "min"), (self.seconds, "s")]
        return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


class StepBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=64, description="Stable id, unique in the sequence")
    name: str | None = Field(default=None, max_length=200)

    contacts_lead: ClassVar[bool] = False
    # The channel whose per-tenant daily cap (a field of `DailyCaps`) each execution counts against; None: no cap.
    capped_channel: ClassVar[str | None] = None

    def holds_for(self) -> Duration | None:
        return None

    def aligns_release(self) -> bool:
        """The next step becomes ready no earlier than the next business-hours opening after the hold."""
        return False

    def exits_after(self, *, exit_stages: Collection[Stage], status_stages: Mapping[str, Stage]) -> bool:
        return False

    def texts(self) -> list[tuple[str, str]]:
        """(field path relative to the step, text) for every text that may hold `{{variables}}`."""
        return []


class WhatsAppTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(default="en", min_length=2, max_length=15)
    parameters: list[str] = Field(default_factory=list, description="Body parameters; may hold {{variables}}")


class SendWhatsAppStep(StepBase):
    """Send a WhatsApp message: free `text`, or an approved `template`; `fallback_template` when outside 24 h."""

    type: Literal["send_whatsapp"] = "send_whatsapp"
    text: str | None = Field(default=None, max_length=4096)
    template: WhatsAppTemplate | None = None
    fallback_template: WhatsAppTemplate | None = None

    contacts_lead: ClassVar[bool] = True
    capped_channel: ClassVar[str | None] = "whatsapp"

    def texts(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.text is not None:
            found.append(("text", self.text))
        for attr in ("template", "fallback_template"):
            template: WhatsAppTemplate | None = getattr(self, attr)
            if template is not None:
                found += [(f"{attr}.parameters[{i}]", p) for i, p in enumerate(template.parameters)]
        return found


class WaitStep(StepBase):
    """Wait a duration; with `align_to_business_hours` the wait ends no earlier than the next window opening."""

    type: Literal["wait"] = "wait"
    duration: Duration
    align_to_business_hours: bool = False

    def holds_for(self) -> Duration | None:
        return self.duration

    def aligns_release(self) -> bool:
        return self.align_to_business_hours


class WaitForReplyStep(StepBase):
    """Wait up to `timeout` for the lead to reply; a reply exits or goes on, and so does the timeout."""

    type: Literal["wait_for_reply"] = "wait_for_reply"
    timeout: Duration
    on_reply: Literal["exit", "continue"] = "exit"
    on_timeout: Literal["continue", "exit"] = "continue"

    def holds_for(self) -> Duration | None:
        return self.timeout

    def exits_after(self, *, exit_stages: Collection[Stage], status_stages: Mapping[str, Stage]) -> bool:
        return self.on_reply == "exit" and self.on_timeout == "exit"


class TaskStep(StepBase):
    """A manual step for an agent: created when reached, due `due_in` later.

    With `wait_for_completion` (default) the sequence goes on when the task is completed or skipped; the preview
    assumes that happens at the due time.
    """

    type: Literal["task"] = "task"
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    due_in: Duration = Duration(days=1)
    assignee: str = Field(default="lead_owner", min_length=1, max_length=64, description='"lead_owner" or a user id')
    wait_for_completion: bool = True

    def holds_for(self) -> Duration | None:
        return self.due_in if self.wait_for_completion else None

    def texts(self) -> list[tuple[str, str]]:
        found = [("title", self.title)]
        if self.description is not None:
            found.append(("description", self.description))
        return found


class SetStatusStep(StepBase):
    """Move the lead to a status (a tenant status key, e.g. "contacted")."""

    type: Literal["set_status"] = "set_status"
    status: str = Field(min_length=1, max_length=64)

    def exits_after(self, *, exit_stages: Collection[Stage], status_stages: Mapping[str, Stage]) -> bool:
        return status_stages.get(self.status) in exit_stages


class AiMessageStep(StepBase):
    """A WhatsApp message the tenant's AI agent writes for this lead from the owner's `instructions` and the lead's
    fields. With `approval` it waits as a draft for a person. When the model fails or the agent cannot answer (off,
    budget used up) `fallback_text` goes out instead; `fallback_template` (text only) outside the 24-hour window."""

    type: Literal["ai_message"] = "ai_message"
    instructions: str = Field(
        min_length=1, max_length=2000, description="What the message should say; may hold {{variables}}"
    )
    fallback_text: str = Field(min_length=1, max_length=4096, description="Sent when the model cannot write it")
    approval: bool = Field(default=False, description="A person approves (or edits) the message before it goes out")
    fallback_template: WhatsAppTemplate | None = None

    contacts_lead: ClassVar[bool] = True
    capped_channel: ClassVar[str | None] = "whatsapp"

    def texts(self) -> list[tuple[str, str]]:
        found = [("instructions", self.instructions), ("fallback_text", self.fallback_text)]
        if self.fallback_template is not None:
            found += [
                (f"fallback_template.parameters[{i}]", p) for i, p in enumerate(self.fallback_template.parameters)
            ]
        return found


CallOutcomeBranch = Literal["connected", "voicemail", "no_answer"]


class CallStep(StepBase):
    """Call the lead through the tenant's telephony account (its voicemail policy and answer: the voice agent, an
    agent's phone or a message) and wait up to `wait_up_to` for the call's outcome. `on_connected` (a person answered),
    `on_voicemail` (a message was left) and `on_no_answer` (no answer, busy, failed, or no outcome in time) say where
    the enrollment goes: `continue` to the next step, or `exit`. The tenant's retry policy does not apply: the
    sequence's next steps are the retry."""

    type: Literal["call"] = "call"
    on_connected: Literal["continue", "exit"] = "exit"
    on_voicemail: Literal["continue", "exit"] = "continue"
    on_no_answer: Literal["continue", "exit"] = "continue"
    wait_up_to: Duration = Field(
        default=Duration(hours=4), description="How long the step waits for the outcome (a call may queue for a slot)"
    )

    contacts_lead: ClassVar[bool] = True

    def on(self, branch: CallOutcomeBranch) -> Literal["continue", "exit"]:
        return {"connected": self.on_connected, "voicemail": self.on_voicemail, "no_answer": self.on_no_answer}[branch]

    def exits_after(self, *, exit_stages: Collection[Stage], status_stages: Mapping[str, Stage]) -> bool:
        return self.on_connected == self.on_voicemail == self.on_no_answer == "exit"


Step = Annotated[
    SendWhatsAppStep | WaitStep | WaitForReplyStep | TaskStep | SetStatusStep | AiMessageStep | CallStep,
    Field(discriminator="type"),
]


def step_types() -> list[str]:
    """The `type` tags of the union, in order."""
    union = get_args(Step)[0]
    return [member.model_fields["type"].default for member in get_args(union)]

"""The timeline an enrollment would follow, as the preview endpoint shows it, and the message a send step renders.

Pure. `preview()` walks `schedule.timeline()` — the same `plan_step`/`next_index` the SequenceWorkflow drives — and
renders each step's text with `render_message()`, which the workflow also uses to build its send. Assumptions:
the lead never replies (a `wait_for_reply` shows its timeout horizon) and each task is done at its due time.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.sequences.definition import SequenceDefinition
from domain.sequences.schedule import StepPlan, timeline, zone
from domain.sequences.steps import (
    AiMessageStep,
    CallStep,
    SendWhatsAppStep,
    SetStatusStep,
    StepBase,
    TaskStep,
    WaitForReplyStep,
    WaitStep,
    WhatsAppTemplate,
)
from domain.sequences.variables import render
from domain.stages import Stage


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A send step's content for one lead: text (or template with rendered parameters) and the missing variables."""

    text: str | None
    template: WhatsAppTemplate | None
    fallback_template: WhatsAppTemplate | None
    missing: list[str] = field(default_factory=list)


def render_message(step: SendWhatsAppStep, lead_fields: Mapping[str, Any]) -> RenderedMessage:
    missing: list[str] = []

    def text_of(value: str) -> str:
        rendered = render(value, lead_fields)
        missing.extend(m for m in rendered.missing if m not in missing)
        return rendered.text

    def template_of(template: WhatsAppTemplate | None) -> WhatsAppTemplate | None:
        if template is None:
            return None
        return template.model_copy(update={"parameters": [text_of(p) for p in template.parameters]})

    text = text_of(step.text) if step.text is not None else None
    return RenderedMessage(text, template_of(step.template), template_of(step.fallback_template), missing)


def render_fallback_template(step: AiMessageStep, lead_fields: Mapping[str, Any]) -> WhatsAppTemplate | None:
    """An AI message's template for outside the 24-hour window, its parameters rendered for the lead."""
    template = step.fallback_template
    if template is None:
        return None
    return template.model_copy(update={"parameters": [render(p, lead_fields).text for p in template.parameters]})


class PreviewStep(BaseModel):
    """One row of the preview. Times are ISO-8601: `*_utc` in UTC (`Z`), `*_local` with the lead's offset."""

    index: int
    id: str
    type: str
    name: str | None = None
    fire_at_utc: str
    fire_at_local: str
    until_utc: str | None = Field(default=None, description="End of a wait, reply timeout horizon, task due time")
    until_local: str | None = None
    waited_for_business_hours: bool = False  # ready outside business hours; fires at the next window
    text: str | None = None  # rendered message text (send), task title
    template: WhatsAppTemplate | None = None  # rendered template (send)
    fallback_template: WhatsAppTemplate | None = None
    instructions: str | None = Field(default=None, description="AI message: the owner's instructions, rendered")
    fallback_text: str | None = Field(default=None, description="AI message: sent when the model cannot write it")
    approval: bool = Field(default=False, description="AI message: a person approves it before it goes out")
    missing_variables: list[str] = Field(default_factory=list)
    summary: str  # one line a person reads: "Send WhatsApp text", "Wait 2 d", "Wait up to 3 d for a reply..."
    ends_enrollment: bool = False


def _iso_utc(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def preview(
    definition: SequenceDefinition,
    *,
    start_at: datetime,
    lead_timezone: str,
    lead_fields: Mapping[str, Any],
    status_stages: Mapping[str, Stage] | None = None,
) -> list[PreviewStep]:
    """The steps an enrollment started at `start_at` would take for a lead in `lead_timezone` with `lead_fields`
    (first_name, last_name, name, phone, email, custom: {...})."""
    tz = zone(lead_timezone)
    rows = []
    for plan in timeline(definition, start_at=start_at, timezone=lead_timezone, status_stages=status_stages):
        step = plan.step
        holds = step.holds_for() is not None
        row = PreviewStep(
            index=plan.index,
            id=step.id or "",
            type=getattr(step, "type", type(step).__name__),
            name=step.name,
            fire_at_utc=_iso_utc(plan.fire_at),
            fire_at_local=plan.fire_at.astimezone(tz).isoformat(),
            until_utc=_iso_utc(plan.release_at) if holds else None,
            until_local=plan.release_at.astimezone(tz).isoformat() if holds else None,
            waited_for_business_hours=plan.deferred,
            summary=_summary(plan),
            ends_enrollment=plan.ends_enrollment,
        )
        if isinstance(step, SendWhatsAppStep):
            message = render_message(step, lead_fields)
            row.text, row.template, row.fallback_template = message.text, message.template, message.fallback_template
            row.missing_variables = message.missing
        elif isinstance(step, AiMessageStep):
            instructions, fallback = render(step.instructions, lead_fields), render(step.fallback_text, lead_fields)
            row.instructions, row.fallback_text, row.approval = instructions.text, fallback.text, step.approval
            row.fallback_template = render_fallback_template(step, lead_fields)
            row.missing_variables = list(dict.fromkeys([*instructions.missing, *fallback.missing]))
        elif isinstance(step, TaskStep):
            rendered = render(step.title, lead_fields)
            row.text, row.missing_variables = rendered.text, rendered.missing
        rows.append(row)
    return rows


def _summary(plan: StepPlan) -> str:
    step: StepBase = plan.step
    if isinstance(step, SendWhatsAppStep):
        return f"Send WhatsApp template '{step.template.name}'" if step.template else "Send WhatsApp text"
    if isinstance(step, AiMessageStep):
        return "Send a WhatsApp message written by the AI agent" + (", approved by a person" if step.approval else "")
    if isinstance(step, WaitStep):
        aligned = ", then until business hours" if step.align_to_business_hours else ""
        return f"Wait {step.duration.describe()}{aligned}"
    if isinstance(step, WaitForReplyStep):
        on_timeout = "end the sequence" if step.on_timeout == "exit" else "continue"
        on_reply = "end the sequence" if step.on_reply == "exit" else "continue"
        return f"Wait up to {step.timeout.describe()} for a reply (reply: {on_reply}; no reply: {on_timeout})"
    if isinstance(step, TaskStep):
        who = "the lead's owner" if step.assignee == "lead_owner" else f"user {step.assignee}"
        return f"Task for {who}, due in {step.due_in.describe()}"
    if isinstance(step, SetStatusStep):
        return f"Set status to '{step.status}'"
    if isinstance(step, CallStep):
        branches = {"connected": step.on_connected, "voicemail": step.on_voicemail, "no answer": step.on_no_answer}
        said = "; ".join(f"{k}: {'end the sequence' if v == 'exit' else 'continue'}" for k, v in branches.items())
        return f"Call the lead, waiting up to {step.wait_up_to.describe()} for the outcome ({said})"
    return type(step).__name__

"""A minimal workflow that drives the sequence schedule the way SequenceWorkflow does, for the sandbox test.

Kept out of the test module because the workflow sandbox re-imports a workflow's module: this one imports only
what a real workflow may (temporalio, pydantic, domain). `domain.sequences` is deliberately NOT passed through, so
the test proves it imports and runs inside the sandbox (zoneinfo and pydantic included).
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

from domain.sequences.definition import SequenceDefinition
from domain.sequences.preview import render_message
from domain.sequences.schedule import next_index, plan_step
from domain.sequences.steps import SendWhatsAppStep


class ProbeInput(BaseModel):
    definition: SequenceDefinition
    lead_timezone: str
    lead_fields: dict[str, Any]


class ProbeStep(BaseModel):
    id: str
    planned_fire_at: datetime
    fired_at: datetime  # workflow.now() when the step acted
    text: str | None = None


class ProbeResult(BaseModel):
    started_at: datetime
    steps: list[ProbeStep]


@workflow.defn
class SequenceSchedulePlanProbe:
    @workflow.run
    async def run(self, params: ProbeInput) -> ProbeResult:
        definition = params.definition
        started_at = workflow.now()
        ready_at = started_at
        index: int | None = 0 if definition.steps else None
        done: list[ProbeStep] = []
        while index is not None:
            plan = plan_step(definition, index, ready_at=ready_at, timezone=params.lead_timezone)
            await self._sleep_until(plan.fire_at)
            step = plan.step
            text = render_message(step, params.lead_fields).text if isinstance(step, SendWhatsAppStep) else None
            done.append(ProbeStep(id=step.id or "", planned_fire_at=plan.fire_at, fired_at=workflow.now(), text=text))
            await self._sleep_until(plan.release_at)
            index, ready_at = next_index(definition, index, replied=False), plan.release_at
        return ProbeResult(started_at=started_at, steps=done)

    async def _sleep_until(self, instant: datetime) -> None:
        delay = instant - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)

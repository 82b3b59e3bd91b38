"""HTTP shapes of enrollments: EnrollRequest in, EnrollReport / EnrollmentPublic out; EnrollmentControlRequest for
pause / resume / stop."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, model_validator

from api.schemas.base import InputBody
from api.schemas.jobs import JobPublic
from api.schemas.sequences import one_of_and_start
from domain.stages import Stage

SkipReason = Literal["already_enrolled", "opted_out", "terminal_stage", "not_found"]


class LeadFilter(InputBody):
    """The filters of GET /leads: every lead matching all of them is enrolled."""

    status: str | None = Field(default=None, max_length=63)
    stage: Stage | None = None
    owner_id: uuid.UUID | None = None
    q: str | None = Field(default=None, max_length=200)


class EnrollRequest(InputBody):
    """Exactly one of `lead_ids` or `filter` (an empty filter `{}` means every lead of the tenant)."""

    # The hard bound only stops absurd bodies; settings.enrollment_max_leads is the limit a person sees.
    lead_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100_000)
    filter: LeadFilter | None = None
    start_at: datetime | None = Field(default=None, description="when step 1 is ready (ISO-8601 with offset); now")

    @model_validator(mode="after")
    def _one_selection(self) -> "EnrollRequest":
        return one_of_and_start(self, "lead_ids", "filter")


class SkippedLead(BaseModel):
    lead_id: uuid.UUID
    reason: SkipReason
    enrollment_id: uuid.UUID | None = Field(default=None, description="the open enrollment (already_enrolled)")


class EnrollReport(BaseModel):
    """202: the enrollments are saved; `job` starts their workflows behind the answer (GET /jobs/{id})."""

    sequence_id: uuid.UUID
    version: int = Field(description="the published version the new enrollments run")
    enrolled: int
    enrollment_ids: list[uuid.UUID]
    skipped: list[SkippedLead]
    job: JobPublic


class EnrollmentControlRequest(InputBody):
    reason: str | None = Field(default=None, max_length=500)


NEXT_ACTION_AT = (
    "UTC: when the enrollment acts next (a step fires, a wait or a reply timeout ends); null while paused, while "
    "waiting on a person's task (the task has its own due_at), and once ended"
)


class EnrollmentStepPublic(BaseModel):
    number: int
    index: int = Field(validation_alias=AliasChoices("index", "step_index"))  # the row calls it step_index
    step_id: str
    type: str
    result: str
    detail: str | None = None
    planned_at: datetime
    fired_at: datetime


class EnrollmentSummary(BaseModel):
    """An enrollment as its mirrored row has it (the list; GET /enrollments/{id} adds the workflow's live view)."""

    id: uuid.UUID
    lead_id: uuid.UUID
    sequence_version: int
    status: str
    current_step_id: str | None
    next_action_at: datetime | None = Field(description=NEXT_ACTION_AT)
    exit_reason: str | None
    replies: int
    enrolled_by: str
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime


class LeadEnrollment(EnrollmentSummary):
    """One enrollment of a lead, named by its sequence."""

    sequence_id: uuid.UUID
    sequence_name: str


EnrollmentStatusFilter = Literal["active", "paused", "completed", "exited", "stopped"]


class EnrollmentPublic(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    sequence_id: uuid.UUID
    sequence_version: int
    workflow_id: str
    status: str = Field(description="active | paused | completed | exited | stopped")
    current_step_index: int | None
    current_step_id: str | None
    current_step_type: str | None
    next_action_at: datetime | None = Field(description=NEXT_ACTION_AT)
    exit_reason: str | None
    exit_detail: str | None
    replies: int
    open_task_id: uuid.UUID | None
    enrolled_by: str
    started_at: datetime | None
    paused_at: datetime | None
    ended_at: datetime | None
    history: list[EnrollmentStepPublic]
    source: Literal["workflow", "database"] = Field(
        description="'workflow': answered by the running workflow; 'database': its mirrored row (ended, or busy)"
    )

"""The typed surface of the SequenceWorkflow: its input, signals, updates, view, and its activities' I/O.

Shared by the workflow, its activities (worker), the LeadWorkflow (which signals enrollments) and its client
(workflow_clients/sequence.py). Pure pydantic: safe in the workflow sandbox. Activity names are constants here because
workflows may not import the activities package.
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from domain.sequences.definition import BusinessHours, SequenceDefinition
from domain.stages import Stage
from domain.whatsapp_messages import SendWhatsAppInput, SendWhatsAppResult
from workflows.failures import WorkflowFailure
from workflows.shared import FrozenModel

# Activities (activities/sequences.py registers them under these names).
MIRROR_ENROLLMENT = "sequence.mirror_enrollment"
RESERVE_DAILY_SEND = "sequence.reserve_daily_send"
CREATE_TASK = "sequence.create_task"
CLOSE_TASK = "sequence.close_task"
ESCALATE_OVERDUE_TASK = "sequence.escalate_overdue_task"
SET_LEAD_STATUS = "sequence.set_lead_status"
# A due send with its bookkeeping folded in: the daily-cap slot, the send (the outbox, as `whatsapp.send_message`),
# its step row and the enrollment row as the workflow will have it at its next hold, in one activity.
SEND_MESSAGE = "sequence.send_message"
# A due send written ahead of its time for the scheduled-send drain, and the workflow taking it back or reading its
# outcome when it next wakes (models/scheduled_send.py).
SCHEDULE_SEND = "sequence.schedule_send"
SETTLE_SCHEDULED_SEND = "sequence.settle_scheduled_send"
# A `call` step's call (activities/calls.py: it writes the call row and starts its CallWorkflow).
START_SEQUENCE_CALL = "call.start_for_sequence"

# ApplicationError types the workflow raises (workflows/failures.py).
ENROLLMENT_NOT_ACTIVE = WorkflowFailure.ENROLLMENT_NOT_ACTIVE
TASK_NOT_OPEN = WorkflowFailure.TASK_NOT_OPEN
STATUS_REFUSED = WorkflowFailure.STATUS_REFUSED

# Timeline event kinds written for sequences.
TASK_OVERDUE_EVENT = "sequence_task_overdue"
TASK_CREATED_EVENT = "sequence_task_created"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"  # walked past its last step (or a final set_status into an exit stage)
    EXITED = "exited"  # an exit rule ended it: reply, lead stage, opt-out, no reply, undeliverable, lead deleted
    STOPPED = "stopped"  # a person stopped it

    @property
    def ended(self) -> bool:
        return self in (EnrollmentStatus.COMPLETED, EnrollmentStatus.EXITED, EnrollmentStatus.STOPPED)


# Exit reasons (codes the stats group by). `stage:<stage>` for a lead that reached an exit stage.
EXIT_REPLIED = "replied"
REPLIED_DETAIL = "the lead replied"  # the exit detail of a reply's end (the workflow's and the dispatcher's)
EXIT_OPTED_OUT = "opted_out"
EXIT_NO_REPLY = "no_reply"
EXIT_STOPPED = "stopped"
EXIT_UNDELIVERABLE = "undeliverable"
EXIT_LEAD_DELETED = "lead_deleted"
# A call step whose outcome's branch says exit ends the enrollment with `call_<branch>` (call_connected, ...).


def stage_exit_reason(stage: Stage) -> str:
    return f"stage:{stage.value}"


class StepResult(StrEnum):
    """What one step execution did (`StepRecord.result`, the step history's `result` column)."""

    SENT = "sent"
    FAILED = "failed"
    DEFERRED = "deferred"  # the daily cap is full: the send moves to a later window
    WAITING = "waiting"
    REPLIED = "replied"
    NO_REPLY = "no_reply"
    TASK_CREATED = "task_created"
    TASK_OVERDUE = "task_overdue"
    TASK_COMPLETED = "task_completed"
    TASK_SKIPPED = "task_skipped"
    STATUS_SET = "status_set"
    DRAFT_WAITING = "draft_waiting"  # an ai_message step's draft waits for a person
    DRAFT_REJECTED = "draft_rejected"
    DRAFT_EXPIRED = "draft_expired"  # nobody decided in time: a task for the lead's owner
    SKIPPED = "skipped"  # a step type this worker does not know
    CALL_PLACED = "call_placed"  # a call step's call started (detail: its workflow id)
    CALL_CONNECTED = "call_connected"  # ... and its outcome (detail: the disposition)
    CALL_VOICEMAIL = "call_voicemail"
    CALL_NO_ANSWER = "call_no_answer"
    STOPPED = "stopped"  # a person stopped the enrollment before this send went out: nothing was sent
    EXITED = "exited"  # the lead reached an exit stage before this send went out: nothing was sent


class TaskOutcome(StrEnum):
    """How a task of a sequence closed (`TaskToClose.status`)."""

    COMPLETED = "completed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # the enrollment ended while it was open


class StepRecord(FrozenModel):
    """One thing the enrollment did: a step fired (or was deferred), with its result."""

    number: int = Field(description="1-based count of step executions over the enrollment's life (idempotency)")
    index: int
    step_id: str
    type: str
    planned_at: datetime = Field(description="when the schedule said it acts (UTC)")
    fired_at: datetime
    result: str  # a StepResult value
    detail: str | None = None
    times: int = Field(
        default=1,
        description="how many times this step execution has had this result so far (a send the cap deferred again); "
        "the stored row, one per execution and result, keeps the count",
    )


class EnrollmentView(FrozenModel):
    """What the `view` query and the control updates answer, and what continue-as-new carries."""

    enrollment_id: uuid.UUID
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    sequence_id: uuid.UUID
    sequence_version_id: uuid.UUID
    status: EnrollmentStatus = EnrollmentStatus.ACTIVE
    current_step_index: int | None = 0
    current_step_id: str | None = None
    current_step_type: str | None = None
    next_action_at: datetime | None = Field(
        default=None,
        description="UTC: when the enrollment acts next (a step fires, a wait or reply timeout ends); None while "
        "paused, while waiting on a person's task (the task has its own due time), and once ended",
    )
    exit_reason: str | None = None
    exit_detail: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    paused_at: datetime | None = None
    steps_run: int = Field(default=0, ge=0, description="step executions so far (the idempotency counter)")
    replies: int = Field(default=0, ge=0)
    open_task_id: uuid.UUID | None = None
    revision: int = Field(default=0, ge=0, description="increases on every change; the DB mirror keeps the newest")
    history: tuple[StepRecord, ...] = ()


class SequenceWorkflowInput(FrozenModel):
    """Everything an enrollment needs, frozen at enrollment: the version's definition, the lead's fields and zones.

    `carried_over`, `resume_index` and `ready_at` are set only by continue-as-new: the previous run's view and the
    step to go on with.
    """

    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    enrollment_id: uuid.UUID
    sequence_id: uuid.UUID
    sequence_version_id: uuid.UUID
    sequence_version: int = Field(ge=1)
    definition: SequenceDefinition
    lead_fields: dict[str, Any] = Field(default_factory=dict, description="first_name, name, phone, email, custom")
    lead_owner_id: uuid.UUID | None = None
    lead_timezone: str
    tenant_timezone: str
    status_stages: dict[str, Stage] = Field(description="the tenant's status keys and their stages")
    enrolled_by: str = "system"
    start_at: datetime | None = Field(default=None, description="when step 1 is ready; None: when the run starts")
    max_history_events: int = Field(default=2000, ge=50)
    carried_over: EnrollmentView | None = None
    resume_index: int | None = Field(default=None, description="continue-as-new: the step to run next")
    ready_at: datetime | None = Field(default=None, description="continue-as-new: when that step became ready")
    reply_horizon: datetime | None = Field(
        default=None, description="continue-as-new: a reply received after this ends the enrollment's sends"
    )
    scheduled_sends: bool = Field(
        default=False,
        description="a send planned ahead is written for the scheduled-send drain, the workflow sleeping past it "
        "(LEADFLOW_SEQUENCE_SCHEDULED_SENDS when the enrollment started; runs started before it: False)",
    )


# Signals from the LeadWorkflow ---------------------------------------------------------------------------------------


class LeadReplied(FrozenModel):
    received_at: datetime  # the latest of the messages
    provider_message_id: str | None = None  # the latest message's
    messages: int = Field(default=1, ge=1)  # how many messages this reply tells of (a burst the lead sent at once)


class LeadStageChanged(FrozenModel):
    status_key: str
    stage: Stage
    actor: str = "system"


class LeadOptedOut(FrozenModel):
    reason: str | None = None


class LeadUndeliverable(FrozenModel):
    """The provider reported after the fact that WhatsApp cannot deliver to the lead's number."""

    reason: str | None = None


# Updates -------------------------------------------------------------------------------------------------------------


class EnrollmentControl(FrozenModel):
    """pause / resume / stop: who asked and why."""

    actor: str = Field(min_length=1, max_length=80)
    reason: str | None = Field(default=None, max_length=500)


class TaskAction(FrozenModel):
    """complete_task / skip_task: the task the agent acted on."""

    task_id: uuid.UUID
    actor: str = Field(min_length=1, max_length=80)
    note: str | None = Field(default=None, max_length=2000)
    outcome: str | None = Field(default=None, max_length=80)  # what came of it, in the agent's words


# Activity inputs and results -----------------------------------------------------------------------------------------


class EnrollmentMirror(FrozenModel):
    """Write the enrollment's state to its row (only if `view.revision` is newer) and `step` to its step history."""

    view: EnrollmentView
    step: StepRecord | None = None
    # A reply received after this ends the enrollment (None: a reply would not end it now); the row keeps it for the
    # webhook dispatcher, which ends the enrollment in the reply's own transaction (repositories/enrollments.py).
    exits_on_reply_after: datetime | None = None


class DailySendReservation(FrozenModel):
    """Take one of the tenant's daily sends for step execution `number` (idempotent), or learn when to retry."""

    tenant_id: uuid.UUID
    enrollment_id: uuid.UUID
    sequence_id: uuid.UUID
    number: int
    step_index: int
    step_id: str
    at: datetime
    cap: int
    tenant_timezone: str
    lead_timezone: str
    definition: SequenceDefinition
    channel: str = "whatsapp"  # the step's `capped_channel`: whose counter the send takes from
    step_type: str = "send_whatsapp"


class DailySendDecision(FrozenModel):
    granted: bool
    sent_today: int
    defer_until: datetime | None = None
    reason: str | None = None


class DueSend(FrozenModel):
    """`sequence.send_message`: one due send step and the bookkeeping around it.

    `reservation` (a capped send) is taken first; over the cap nothing is sent and the decision comes back. The send
    is `send` through the outbox (same key, same refusals as `whatsapp.send_message`). Once sent, one transaction
    writes the step's `sent` row (`sent_step`: fired when the workflow sent it; its detail from the send), the `after`
    rows (the steps the workflow will record before it next waits, e.g. a wait beginning) and `after_view`, the
    enrollment row as the workflow will have it then (newest revision wins: a later state written meanwhile is kept).
    """

    send: SendWhatsAppInput
    sent_step: StepRecord
    reservation: DailySendReservation | None = None
    after_view: EnrollmentView
    after: tuple[StepRecord, ...] = ()
    after_exits_on_reply_after: datetime | None = None  # as `EnrollmentMirror.exits_on_reply_after`, at that hold
    tenant_timezone: str | None = None  # the tenant's day the send counts on (None: looked up)


class DueSendResult(FrozenModel):
    """Sent (`sent`, at `fired_at`), or deferred by the daily cap (`deferred`)."""

    sent: SendWhatsAppResult | None = None
    fired_at: datetime | None = None
    deferred: DailySendDecision | None = None

    @property
    def detail(self) -> str:
        """The `sent` step's detail, as the step row and the workflow's history both say it."""
        assert self.sent is not None
        return f"{self.sent.mode} {self.sent.provider_message_id}"


class ScheduledDueSend(FrozenModel):
    """`sequence.schedule_send`: a due send written ahead, for the drain to send at `due_at` as `sequence.send_message`
    would. `signal_when_settled`: the workflow has nothing to wake it soon after the send (the step after it is due
    at once), so the drain signals it even after a plain send; other outcomes always signal."""

    due: DueSend
    due_at: datetime
    signal_when_settled: bool = False

    @property
    def key(self) -> str:
        return self.due.send.idempotency_key


class SendFailure(FrozenModel):
    """A send's refusal or final failure, as the workflow reads an activity's `ApplicationError`."""

    kind: str | None = None
    message: str
    details: dict[str, Any] | None = None  # the error's first detail, when it is a mapping


class ScheduledSendState(StrEnum):
    CANCELLED = "cancelled"  # taken back before a drain claimed it: nothing was sent
    SENT = "sent"
    DEFERRED = "deferred"  # over the daily cap: `result.deferred` says until when
    HELD = "held"  # a person paused the enrollment: nothing went out, the outbox row waits for the resume
    FAILED = "failed"  # refused, or throttled for longer than a sequence send keeps trying: `failure`


class ScheduledSendOutcome(FrozenModel):
    """What became of a scheduled send (`sequence.settle_scheduled_send`, and the drain's signal)."""

    key: str
    state: ScheduledSendState
    result: DueSendResult | None = None
    failure: SendFailure | None = None


class TaskToCreate(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    enrollment_id: uuid.UUID
    step_id: str
    key: str  # idempotency: one task per enrollment step execution
    title: str
    description: str | None
    due_at: datetime
    assignee: str  # "lead_owner" or a user id
    created_at: datetime
    blocks_enrollment: bool = True  # the step waits for it (wait_for_completion)


class CreatedTask(FrozenModel):
    task_id: uuid.UUID
    assignee_id: uuid.UUID | None


class TaskToClose(FrozenModel):
    tenant_id: uuid.UUID
    task_id: uuid.UUID
    status: str  # a TaskOutcome value
    actor: str
    note: str | None = None
    at: datetime
    outcome: str | None = None


class OverdueTask(FrozenModel):
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    task_id: uuid.UUID
    title: str
    due_at: datetime
    key: str


class LeadStatusToSet(FrozenModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    status_key: str
    actor: str
    reason: str | None = None


class LeadStatusSet(FrozenModel):
    applied: bool
    stage: Stage | None = None
    detail: str | None = None


def enrollment_workflow_id(tenant_slug: str, enrollment_id: str) -> str:
    """Readable: the tenant and the enrollment row from the id alone (`enrollment:<tenant slug>:<enrollment id>`)."""
    return f"enrollment:{tenant_slug}:{enrollment_id}"


# Signals between the LeadWorkflow and its enrollments, by name (each side declares its handler under these names).
LEAD_REPLIED_SIGNAL = "lead_replied"
LEAD_STAGE_CHANGED_SIGNAL = "lead_stage_changed"
LEAD_OPTED_OUT_SIGNAL = "lead_opted_out"
LEAD_UNDELIVERABLE_SIGNAL = "lead_undeliverable"
ENROLLMENT_STARTED_SIGNAL = "enrollment_started"
ENROLLMENT_ENDED_SIGNAL = "enrollment_ended"
# From a `call` step's CallWorkflow to its enrollment, when the call ended.
SEQUENCE_CALL_ENDED_SIGNAL = "call_ended"
# From the scheduled-send drain: a send written ahead was settled (`ScheduledSendOutcome`).
SCHEDULED_SEND_SETTLED_SIGNAL = "scheduled_send_settled"


class SequenceCallRequest(FrozenModel):
    """A `call` step's call: the row's attempt key is the step execution's, so a retried activity starts one call."""

    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    enrollment_workflow_id: str
    attempt_key: str = Field(max_length=64)
    business_hours: BusinessHours


class SequenceCallStarted(FrozenModel):
    call_id: uuid.UUID
    workflow_id: str


class SequenceCallEnded(FrozenModel):
    call_id: uuid.UUID
    disposition: str


class EnrollmentLink(FrozenModel):
    """Told to the LeadWorkflow when an enrollment starts or ends, so it knows whom to tell about the lead."""

    workflow_id: str
    enrollment_id: uuid.UUID
    sequence_id: uuid.UUID

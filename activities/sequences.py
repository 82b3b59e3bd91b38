"""Activities of the SequenceWorkflow: its DB writes and its one call to another workflow. Thin, safe to run twice.

- `mirror_enrollment`: the workflow's view to the enrollment row (newest revision wins) and a step outcome to the
  step history (one row per enrollment, execution number and result; a result repeated in one execution, a send the
  cap deferred again, raises the row's `data.times` so the stats count every deferral).
- `reserve_daily_send`: one of the tenant's daily sequence sends, taken from the tenant-day counter
  (`daily_send_count`) by one conditional upsert, so concurrent enrollments never exceed the cap and the check costs
  the same however full the day is; the step's `reserved` row makes a retry keep its slot. Over the cap it answers
  when to try again (`domain.sequences.schedule.daily_cap_decision`). The day is the tenant's day in which the send
  goes out (`at`: the workflow's clock when it reserves, never the step's planned time). A send of a sequence
  without a cap is counted when its `sent` step is mirrored: the cap is on all of the tenant's sequence sends.
- `send_message`: a due send with its bookkeeping folded in (`DueSend`): the cap slot, the send through the
  channel (the outbox: effectively once, the stop record, pacing), then in one transaction its `sent` step row, the
  rows of what the workflow does next before it waits again, and the enrollment row as it will be then. One
  activity and two workflow tasks per due send, where a reservation, a send and three mirrors took five and six.
- `schedule_send` / `settle_scheduled_send`: a due send written ahead for the scheduled-send drain
  (worker/send_drain.py), which sends it at its time as `send_message` would without waking the workflow; and the
  workflow taking it back when it wakes (cancelled if no drain has it yet, else its outcome, waited for while a drain
  holds it).
- `create_task` / `close_task` / `escalate_overdue_task`: the task row, once per step execution; closing only an
  open task; one `sequence_task_overdue` timeline event per task.
- `set_lead_status`: runs the LeadWorkflow's `change_status` update through the Temporal client the worker injects
  (a workflow cannot send an update to another workflow). A refused transition is a result, not a failure.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from channels.whatsapp.outbox import WithAnswer
from core.db import autocommit_session
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from domain.notifications import NotificationKind
from domain.sequences.schedule import daily_cap_decision, tenant_day
from domain.stages import Stage
from domain.whatsapp_messages import SendWhatsAppInput, SendWhatsAppResult
from models import Task
from repositories.enrollments import RESERVED, SENT, EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.notifications import NotificationRepository
from repositories.scheduled_sends import ScheduledSendRepository
from repositories.statuses import StatusRepository
from repositories.tasks import TaskRepository
from repositories.tenants import TenantRepository
from repositories.timeline import TimelineRepository
from repositories.users import UserRepository
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import LEAD_GONE, StatusChangeRequest
from workflows.sequence_types import (
    CLOSE_TASK,
    CREATE_TASK,
    ESCALATE_OVERDUE_TASK,
    MIRROR_ENROLLMENT,
    RESERVE_DAILY_SEND,
    SCHEDULE_SEND,
    SEND_MESSAGE,
    SET_LEAD_STATUS,
    SETTLE_SCHEDULED_SEND,
    TASK_CREATED_EVENT,
    TASK_OVERDUE_EVENT,
    CreatedTask,
    DailySendDecision,
    DailySendReservation,
    DueSend,
    DueSendResult,
    EnrollmentMirror,
    EnrollmentView,
    LeadStatusSet,
    LeadStatusToSet,
    OverdueTask,
    ScheduledDueSend,
    ScheduledSendOutcome,
    ScheduledSendState,
    StepRecord,
    TaskToClose,
    TaskToCreate,
)

# How often taking back a scheduled send looks again while a drain holds it.
SETTLE_POLL_SECONDS = 0.25


def _task_event_data(task: Task, *, title: str, due_at: datetime) -> dict[str, Any]:
    """What a task's timeline events say of it."""
    return {
        "task_id": str(task.id),
        "title": title,
        "due_at": due_at.isoformat(),
        "assignee_id": str(task.assignee_id) if task.assignee_id else None,
    }


async def _notify_assignee(
    session: AsyncSession, task: Task, kind: NotificationKind, title: str, *, key: str
) -> list[uuid.UUID]:
    """A notification of the task for its assignee (none for a task nobody is assigned)."""
    return await NotificationRepository(session).notify(
        tenant_id=task.tenant_id,
        user_ids=[task.assignee_id] if task.assignee_id else [],
        kind=kind,
        title=title,
        lead_id=task.lead_id,
        key=key,
        data={"task_id": str(task.id)},
    )


class SendsWhatsApp(Protocol):
    """The channel's send (activities/whatsapp.py `WhatsAppActivities.send`)."""

    async def __call__(
        self, data: SendWhatsAppInput, *, with_answer: WithAnswer | None = None
    ) -> SendWhatsAppResult: ...


@dataclass(frozen=True, slots=True)
class UncountedSend:
    """A sent step to count against its tenant's day (`EnrollmentRepository.count_sent_once`)."""

    tenant_id: uuid.UUID
    enrollment_id: uuid.UUID
    number: int
    day: date


class SequenceActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        live: LiveEvents | None = None,
        send: SendsWhatsApp | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.client = client
        # The channel's send (the `whatsapp.send_message` activity's body), for `send_message`.
        self.send = send
        # Tells open web apps what changed, after each transaction commits (None: nobody is told).
        self.live = live

    async def _tell(self, tenant_id: uuid.UUID, kind: LiveEventType, lead_id: uuid.UUID) -> None:
        if self.live is not None:
            await self.live.publish(LiveEvent(tenant_id=tenant_id, type=kind, data={"lead_id": str(lead_id)}))

    async def _notified(self, tenant_id: uuid.UUID, lead_id: uuid.UUID, people: list[uuid.UUID]) -> None:
        if self.live is not None and people:
            data = {"lead_id": str(lead_id)}
            kind = LiveEventType.NOTIFICATION_CREATED
            await self.live.publish(*(LiveEvent(tenant_id, kind, data, user_id=person) for person in people))

    @activity.defn(name=MIRROR_ENROLLMENT)
    async def mirror_enrollment(self, mirror: EnrollmentMirror) -> None:
        view = mirror.view
        async with self.session_factory() as session, session.begin():
            steps = (mirror.step,) if mirror.step is not None else ()
            uncounted = await self._write(session, view, steps, exits_on_reply_after=mirror.exits_on_reply_after)
        await self._count_sends(uncounted)
        await self._tell(view.tenant_id, LiveEventType.ENROLLMENT_CHANGED, view.lead_id)

    async def _write(
        self,
        session: AsyncSession,
        view: EnrollmentView,
        steps: Sequence[StepRecord],
        *,
        reserved: bool | None = None,
        exits_on_reply_after: datetime | None = None,
        tenant_timezone: str | None = None,
    ) -> list[UncountedSend]:
        """The view to the enrollment row (if newer) and step outcomes to its history (each once). `reserved`: whether
        a sent step took a daily-cap slot, when the caller knows (None: looked up). `exits_on_reply_after`: the reply
        stop the row keeps beside the view (repositories/enrollments.py `end_on_reply`). Returns the sent steps that
        took no cap slot, for `_count_sends` once the transaction committed."""
        enrollments = EnrollmentRepository(session)
        mirrored = await enrollments.mirror(
            enrollment_id=view.enrollment_id,
            revision=view.revision,
            values={
                "status": view.status.value,
                "current_step_index": view.current_step_index,
                "current_step_id": view.current_step_id,
                "current_step_type": view.current_step_type,
                "next_action_at": view.next_action_at,
                "exit_reason": view.exit_reason,
                "exit_detail": (view.exit_detail or "")[:500] or None,
                "steps_run": view.steps_run,
                "replies": view.replies,
                "open_task_id": view.open_task_id,
                "started_at": view.started_at,
                "paused_at": view.paused_at,
                "ended_at": view.ended_at,
                "exits_on_reply_after": exits_on_reply_after,
            },
        )
        if not mirrored and not await enrollments.exists(enrollment_id=view.enrollment_id):
            return []  # the lead (and with it the enrollment row) was deleted: nothing left to mirror into
        uncounted: list[UncountedSend] = []
        for step in steps:
            await enrollments.record_step(
                {
                    "tenant_id": view.tenant_id,
                    "enrollment_id": view.enrollment_id,
                    "sequence_id": view.sequence_id,
                    "number": step.number,
                    "step_index": step.index,
                    "step_id": step.step_id,
                    "type": step.type,
                    "result": step.result,
                    "detail": (step.detail or "")[:1000] or None,
                    "planned_at": step.planned_at,
                    "fired_at": step.fired_at,
                    "data": {"times": step.times},
                }
            )
            if step.result == SENT:
                # Counted after the commit, once however often this runs (`count_sent_once` marks the row).
                uncounted.extend(
                    await self._uncapped(session, view.tenant_id, view.enrollment_id, step, reserved, tenant_timezone)
                )
        return uncounted

    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, due: DueSend) -> DueSendResult:
        """A due send and its bookkeeping in one activity (workflows/sequence_types.py, `DueSend`)."""
        return await self.send_due(due)

    async def send_due(
        self,
        due: DueSend,
        also: Callable[[AsyncSession, DueSendResult], Awaitable[None]] | None = None,
        *,
        counted_again: bool = False,
    ) -> DueSendResult:
        """`send_message`'s work; `also` writes in the transaction of the step rows, once the send went out (the
        scheduled-send drain stores the outcome there). `counted_again`: the enrollment's settle offers a lost daily
        count again (a drained send), so the count need not wait for its WAL flush."""
        if self.send is None:
            raise ApplicationError("this worker cannot send messages", type="NoSender", non_retryable=True)
        if due.reservation is not None:
            decision = await self._take_slot(due.reservation)
            if not decision.granted:
                return DueSendResult(deferred=decision)
        written: list[tuple[DueSendResult, list[UncountedSend]]] = []

        async def with_answer(session: AsyncSession, sent: SendWhatsAppResult) -> None:
            # In the transaction that stores the provider's answer: one commit for the send and its step rows. A try
            # that did not commit is replaced by the next one.
            result = DueSendResult(sent=sent, fired_at=datetime.now(UTC))
            written[:] = [(result, await self._write_sent(session, due, result, also))]

        # Refusals and throttling raise as `whatsapp.send_message` raises them.
        sent = await self.send(due.send, with_answer=with_answer)
        if written:
            result, uncounted = written[0]
        else:  # stored before (a re-run, or a status webhook was first): its step rows in a transaction of their own
            result = DueSendResult(sent=sent, fired_at=datetime.now(UTC))
            async with self.session_factory() as session, session.begin():
                uncounted = await self._write_sent(session, due, result, also)
        await self._count_sends(uncounted, durable=not counted_again)
        await self._tell(due.after_view.tenant_id, LiveEventType.ENROLLMENT_CHANGED, due.after_view.lead_id)
        return result

    async def _write_sent(
        self,
        session: AsyncSession,
        due: DueSend,
        result: DueSendResult,
        also: Callable[[AsyncSession, DueSendResult], Awaitable[None]] | None,
    ) -> list[UncountedSend]:
        """A sent due send's step rows and enrollment row (and `also`), in the caller's transaction."""
        step = due.sent_step.model_copy(update={"detail": result.detail})  # fired when the workflow sent it
        uncounted = await self._write(
            session,
            due.after_view,
            (step, *due.after),
            reserved=due.reservation is not None,
            exits_on_reply_after=due.after_exits_on_reply_after,
            tenant_timezone=due.tenant_timezone,
        )
        if also is not None:
            await also(session, result)
        return uncounted

    @activity.defn(name=SCHEDULE_SEND)
    async def schedule_send(self, scheduled: ScheduledDueSend) -> str:
        """Write the due send ahead (again, if an earlier one of this step was taken back); the row's state after."""
        view = scheduled.due.after_view
        async with self.session_factory() as session, session.begin():
            return await ScheduledSendRepository(session).schedule(
                tenant_id=view.tenant_id,
                enrollment_id=view.enrollment_id,
                workflow_id=scheduled.due.send.workflow_id,
                key=scheduled.key,
                due_at=scheduled.due_at,
                due=scheduled.due.model_dump(mode="json"),
                signal_when_settled=scheduled.signal_when_settled,
            )

    @activity.defn(name=SETTLE_SCHEDULED_SEND)
    async def settle_scheduled_send(self, key: str) -> ScheduledSendOutcome:
        """Take the send back if no drain has claimed it (cancelled), else its outcome, waiting while a drain holds
        it. A row that is gone (its enrollment deleted) counts as cancelled."""
        while True:
            async with self.session_factory() as session, session.begin():
                row = await ScheduledSendRepository(session).take_back(key=key)
                if row is None or row.state == "cancelled":
                    return ScheduledSendOutcome(key=key, state=ScheduledSendState.CANCELLED)
                if row.state == "done" and row.outcome is not None:
                    outcome = ScheduledSendOutcome.model_validate(row.outcome)
                    # The drain counted it after storing the send, without waiting for the WAL flush; a drain that
                    # died in between, or a crash that lost its count, left it to this (counted once). Counted in
                    # this transaction, which holds the row's lock and so commits with a flush: a drain's count seen
                    # here as done is then on disk too (the WAL is flushed in order).
                    await self._count_each(session, await self._sent_uncounted(session, row.due, outcome))
                    return outcome
            activity.heartbeat()
            await asyncio.sleep(SETTLE_POLL_SECONDS)

    async def _sent_uncounted(
        self, session: AsyncSession, written: dict[str, Any], outcome: ScheduledSendOutcome
    ) -> list[UncountedSend]:
        """A drained send as `_uncapped` offers it to the count; the written-ahead `DueSend` is read only for a send."""
        fired_at = outcome.result.fired_at if outcome.result is not None else None
        if outcome.state is not ScheduledSendState.SENT or fired_at is None:
            return []
        due = DueSend.model_validate(written)
        view = due.after_view
        sent = due.sent_step.model_copy(update={"fired_at": fired_at})
        reserved = due.reservation is not None
        return await self._uncapped(session, view.tenant_id, view.enrollment_id, sent, reserved, due.tenant_timezone)

    @staticmethod
    async def _uncapped(
        session: AsyncSession,
        tenant_id: uuid.UUID,
        enrollment_id: uuid.UUID,
        step: StepRecord,
        reserved: bool | None,
        tenant_timezone: str | None = None,
    ) -> list[UncountedSend]:
        """A sent step that took no cap slot (its sequence has no cap) still counts against the tenant's day: the caps
        of the tenant's other sequences are on all of its sequence sends. Every sequence send today is a WhatsApp one.
        A step recorded by an earlier attempt is offered again: its count may not have been taken yet."""
        if reserved is None:
            reserved = await EnrollmentRepository(session).has_reservation(
                enrollment_id=enrollment_id, number=step.number
            )
        if reserved:
            return []
        if tenant_timezone is None:
            tenant = await TenantRepository(session).get(tenant_id)
            if tenant is None:
                return []
            tenant_timezone = tenant.timezone
        day = tenant_day(step.fired_at, tenant_timezone)
        return [UncountedSend(tenant_id=tenant_id, enrollment_id=enrollment_id, number=step.number, day=day)]

    async def _count_sends(self, uncounted: list[UncountedSend], *, durable: bool = True) -> None:
        """Each uncapped sent step against its tenant-day count, each in one autocommitted statement (`durable`: see
        `EnrollmentRepository.count_sent_once`)."""
        if not uncounted:
            return
        async with autocommit_session(self.session_factory) as session:
            await self._count_each(session, uncounted, durable=durable)

    @staticmethod
    async def _count_each(session: AsyncSession, uncounted: list[UncountedSend], *, durable: bool = True) -> None:
        enrollments = EnrollmentRepository(session)
        for send in uncounted:
            await enrollments.count_sent_once(
                tenant_id=send.tenant_id,
                enrollment_id=send.enrollment_id,
                number=send.number,
                channel="whatsapp",
                day=send.day,
                durable=durable,
            )

    @activity.defn(name=RESERVE_DAILY_SEND)
    async def reserve_daily_send(self, request: DailySendReservation) -> DailySendDecision:
        return await self._take_slot(request)

    async def _take_slot(self, request: DailySendReservation) -> DailySendDecision:
        day = tenant_day(request.at, request.tenant_timezone)
        channel = request.channel
        async with self.session_factory() as session, session.begin():
            enrollments = EnrollmentRepository(session)
            if await enrollments.has_reservation(enrollment_id=request.enrollment_id, number=request.number):
                # A retried reservation keeps the slot it took.
                sent_today = await enrollments.daily_sends(tenant_id=request.tenant_id, channel=channel, day=day)
                return DailySendDecision(granted=True, sent_today=sent_today)
            taken = await enrollments.take_daily_send(
                tenant_id=request.tenant_id, channel=channel, day=day, cap=request.cap
            )
            if taken is None:
                sent_today = await enrollments.daily_sends(tenant_id=request.tenant_id, channel=channel, day=day)
                decision = daily_cap_decision(
                    now=request.at,
                    sent_today=max(sent_today, request.cap),
                    cap=request.cap,
                    tenant_timezone=request.tenant_timezone,
                    lead_timezone=request.lead_timezone,
                    business_hours=request.definition.settings.business_hours,
                )
                return DailySendDecision(
                    granted=False, sent_today=sent_today, defer_until=decision.defer_until, reason=decision.reason
                )
            recorded = await enrollments.record_step(
                {
                    "tenant_id": request.tenant_id,
                    "enrollment_id": request.enrollment_id,
                    "sequence_id": request.sequence_id,
                    "number": request.number,
                    "step_index": request.step_index,
                    "step_id": request.step_id,
                    "type": request.step_type,
                    "result": RESERVED,
                    "detail": f"send {taken} of {request.cap} today",
                    "planned_at": request.at,
                    "fired_at": request.at,
                    "data": {"day": day.isoformat()},
                }
            )
            if not recorded:
                # A concurrent attempt of this same reservation recorded it first: its slot is the one that counts.
                await enrollments.give_back_daily_send(tenant_id=request.tenant_id, channel=channel, day=day)
                taken -= 1
            return DailySendDecision(granted=True, sent_today=taken)

    @activity.defn(name=CREATE_TASK)
    async def create_task(self, task: TaskToCreate) -> CreatedTask:
        async with self.session_factory() as session, session.begin():
            lead = await LeadRepository(session).get(tenant_id=task.tenant_id, lead_id=task.lead_id)
            if lead is None:
                raise ApplicationError(f"lead {task.lead_id} no longer exists", type=LEAD_GONE, non_retryable=True)
            assignee_id = await self._assignee(session, task.tenant_id, task.assignee, lead.owner_id)
            row = await TaskRepository(session).create_once(
                {
                    "tenant_id": task.tenant_id,
                    "lead_id": task.lead_id,
                    "enrollment_id": task.enrollment_id,
                    "step_id": task.step_id,
                    "title": task.title[:200],
                    "description": task.description,
                    "assignee_id": assignee_id,
                    "due_at": task.due_at,
                    "idempotency_key": task.key,
                    "created_at": task.created_at,
                    "blocks_enrollment": task.blocks_enrollment,
                }
            )
            await TimelineRepository(session).record(
                tenant_id=task.tenant_id,
                lead_id=task.lead_id,
                kind=TASK_CREATED_EVENT,
                actor="system",
                data=_task_event_data(row, title=row.title, due_at=task.due_at),
                idempotency_key=f"{task.key}:created",
                occurred_at=task.created_at,
            )
            notified = await _notify_assignee(
                session, row, NotificationKind.TASK_ASSIGNED, f"New task: {row.title}", key=f"{task.key}:assigned"
            )
        await self._tell(task.tenant_id, LiveEventType.TASK_CHANGED, task.lead_id)
        await self._notified(task.tenant_id, task.lead_id, notified)
        return CreatedTask(task_id=row.id, assignee_id=row.assignee_id)

    @staticmethod
    async def _assignee(
        session: AsyncSession, tenant_id: uuid.UUID, assignee: str, owner_id: uuid.UUID | None
    ) -> uuid.UUID | None:
        """The named user of this tenant, else the lead's owner now; only active users get tasks, so a task whose
        people are gone or deactivated is unassigned (owners and admins see it in the whole tenant's inbox)."""
        users = UserRepository(session)
        candidates = [owner_id]
        if assignee != "lead_owner":
            try:
                candidates.insert(0, uuid.UUID(assignee))
            except ValueError:
                pass
        for user_id in candidates:
            user = await users.get(tenant_id=tenant_id, user_id=user_id) if user_id is not None else None
            if user is not None and user.is_active:
                return user.id
        return None

    @activity.defn(name=CLOSE_TASK)
    async def close_task(self, close: TaskToClose) -> bool:
        async with self.session_factory() as session, session.begin():
            tasks = TaskRepository(session)
            closed = await tasks.close(
                tenant_id=close.tenant_id,
                task_id=close.task_id,
                status=close.status,
                actor=close.actor,
                note=close.note,
                at=close.at,
                outcome=close.outcome,
            )
            task = await tasks.get(tenant_id=close.tenant_id, task_id=close.task_id) if closed else None
        if task is not None:
            await self._tell(close.tenant_id, LiveEventType.TASK_CHANGED, task.lead_id)
        return closed

    @activity.defn(name=ESCALATE_OVERDUE_TASK)
    async def escalate_overdue_task(self, overdue: OverdueTask) -> bool:
        """One `sequence_task_overdue` event on the lead's timeline, for the task's assignee."""
        async with self.session_factory() as session, session.begin():
            tasks = TaskRepository(session)
            task = await tasks.get(tenant_id=overdue.tenant_id, task_id=overdue.task_id)
            if task is None or task.status != "open":
                return False
            await tasks.mark_escalated(task_id=task.id, at=datetime.now(UTC))
            notified = await _notify_assignee(
                session,
                task,
                NotificationKind.TASK_OVERDUE,
                f"Overdue task: {overdue.title}",
                key=f"{overdue.key}:notified",
            )
            escalated = await TimelineRepository(session).record(
                tenant_id=overdue.tenant_id,
                lead_id=overdue.lead_id,
                kind=TASK_OVERDUE_EVENT,
                actor="system",
                data=_task_event_data(task, title=overdue.title, due_at=overdue.due_at),
                idempotency_key=overdue.key,
            )
        await self._notified(overdue.tenant_id, overdue.lead_id, notified)
        return escalated

    @activity.defn(name=SET_LEAD_STATUS)
    async def set_lead_status(self, request: LeadStatusToSet) -> LeadStatusSet:
        async with self.session_factory() as session:
            status = await StatusRepository(session).get_by_key(tenant_id=request.tenant_id, key=request.status_key)
        if status is None:
            return LeadStatusSet(applied=False, detail=f"the tenant has no status '{request.status_key}' any more")
        handle = self.client.get_workflow_handle_for(
            LeadWorkflow.run, lead_workflow_id(request.tenant_slug, str(request.lead_id))
        )
        change = StatusChangeRequest(
            status_key=status.key, stage=Stage(status.stage), actor=request.actor, reason=request.reason
        )
        try:
            view = await handle.execute_update(LeadWorkflow.change_status, change)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause)
            return LeadStatusSet(applied=False, detail=f"the lead's workflow refused: {message}")
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return LeadStatusSet(applied=False, detail="the lead's workflow is not running")
            raise
        return LeadStatusSet(applied=True, stage=view.stage, detail=f"status {view.status_key}")

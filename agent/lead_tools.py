"""The tools of one AI turn, carried out for the turn's own tenant and lead only.

`LeadTools` is built per turn with its scope (tenant, lead, turn key); whatever the model asks, it reads and
changes nothing else. Status changes go through the lead workflow's own `change_status` update (its stage rules,
its mirror), tasks are created once per turn (a retried turn finds them), sequences are stopped through each
enrollment's `stop` update. A callback is a task for the lead's owner and, when the tenant makes calls (a telephony
account, the `calls` flag on), a call queued for that moment (origin `ai_callback`, placed once per time).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from agent.tools import HandoffArgs, ScheduleCallbackArgs, SetStatusArgs, StopSequencesArgs, ToolRefused
from channels.voice.scheduling import CallNotPossible, queue_call
from core.feature_flags import FeatureFlagReader
from domain.ai_agent import AgentTool, ConversationHandler
from domain.feature_flags import FeatureFlag
from domain.stages import Stage
from models import Lead
from repositories.conversations import ConversationRepository
from repositories.statuses import StatusRepository
from repositories.tasks import TaskRepository
from repositories.timeline import TimelineRepository
from workflows.ai_types import AI_ACTOR
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow
from workflows.lead_types import StatusChangeRequest
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentControl

CALLBACK_HORIZON = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class TurnScope:
    tenant_id: uuid.UUID
    tenant_slug: str
    lead_id: uuid.UUID
    turn_key: str
    active_enrollments: tuple[str, ...]


class LeadTools:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: Client,
        scope: TurnScope,
        lead: Lead,
        flags: FeatureFlagReader | None = None,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._flags = flags
        self._scope = scope
        self._lead = lead

    async def run(self, tool: AgentTool, args: Any) -> dict[str, Any]:
        if tool == AgentTool.GET_LEAD:
            return self._lead_record()
        if tool == AgentTool.SET_STATUS:
            return await self._set_status(args)
        if tool == AgentTool.HANDOFF_TO_HUMAN:
            return await self._handoff(args)
        if tool == AgentTool.SCHEDULE_CALLBACK:
            return await self._schedule_callback(args)
        return await self._stop_sequences(args)

    def _lead_record(self) -> dict[str, Any]:
        lead = self._lead
        return {
            "name": lead.name or None,
            "status": lead.status_key,
            "stage": lead.stage,
            "source": lead.source,
            "email": lead.email,
            "custom_fields": lead.custom_fields or {},
        }

    async def _set_status(self, args: SetStatusArgs) -> dict[str, Any]:
        async with self._sessions() as session:
            statuses = await StatusRepository(session).list(tenant_id=self._scope.tenant_id)
        status = next((s for s in statuses if s.key == args.status), None)
        if status is None:
            keys = ", ".join(s.key for s in statuses)
            raise ToolRefused(f"unknown status {args.status!r}; use one of: {keys}")
        handle = self._client.get_workflow_handle_for(
            LeadWorkflow.run, lead_workflow_id(self._scope.tenant_slug, str(self._scope.lead_id))
        )
        change = StatusChangeRequest(
            status_key=status.key, stage=Stage(status.stage), actor=AI_ACTOR, reason=args.reason or "AI agent"
        )
        try:
            view = await handle.execute_update(LeadWorkflow.change_status, change)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise ToolRefused(cause.message if isinstance(cause, ApplicationError) else str(cause)) from None
        return {"ok": True, "status": view.status_key, "stage": view.stage.value}

    async def _create_task(self, *, key: str, title: str, description: str, due_at: datetime) -> uuid.UUID:
        async with self._sessions() as session, session.begin():
            task = await TaskRepository(session).create_once(
                {
                    "tenant_id": self._scope.tenant_id,
                    "lead_id": self._scope.lead_id,
                    "title": title[:200],
                    "description": description[:4000],
                    "assignee_id": self._lead.owner_id,
                    "due_at": due_at,
                    "blocks_enrollment": False,
                    "idempotency_key": f"{self._scope.turn_key}:{key}",
                }
            )
            return task.id

    async def _handoff(self, args: HandoffArgs) -> dict[str, Any]:
        name = self._lead.name or "the lead"
        task_id = await self._create_task(
            key="handoff",
            title=f"Take over the WhatsApp conversation with {name}",
            description=f"The AI agent handed the conversation over: {args.reason}",
            due_at=datetime.now(UTC),
        )
        await self._timeline("ai_handoff", {"reason": args.reason, "task_id": str(task_id)}, key="handoff")
        async with self._sessions() as session, session.begin():  # the turn ends `human`: the inbox shows it
            await ConversationRepository(session).set_handler(
                tenant_id=self._scope.tenant_id, lead_id=self._scope.lead_id, handler=ConversationHandler.HUMAN
            )
        return {"ok": True, "task_id": str(task_id), "reason": args.reason}

    async def _schedule_callback(self, args: ScheduleCallbackArgs) -> dict[str, Any]:
        zone = ZoneInfo(self._lead.timezone)
        at = args.at_local.replace(tzinfo=zone) if args.at_local.tzinfo is None else args.at_local
        now = datetime.now(UTC)
        if at <= now:
            raise ToolRefused("the callback time is in the past; give a future local date and time")
        if at > now + CALLBACK_HORIZON:
            raise ToolRefused("the callback must be within 60 days")
        local = at.astimezone(zone)
        task_id = await self._create_task(
            key=f"callback:{local:%Y%m%dT%H%M}",
            title=f"Call back {self._lead.name or 'the lead'}",
            description=args.note or "The lead asked for a call (scheduled by the AI agent).",
            due_at=at.astimezone(UTC),
        )
        call_id = await self._queue_callback_call(at, local)
        data = {
            "at_local": f"{local:%Y-%m-%dT%H:%M}",
            "timezone": self._lead.timezone,
            "task_id": str(task_id),
            "call_id": str(call_id) if call_id else None,
        }
        await self._timeline("ai_callback_scheduled", data, key=f"callback:{local:%Y%m%dT%H%M}")
        return {
            "ok": True,
            "task_id": str(task_id),
            "at_local": data["at_local"],
            "timezone": self._lead.timezone,
            "call_scheduled": call_id is not None,
        }

    async def _queue_callback_call(self, at: datetime, local: datetime) -> uuid.UUID | None:
        """The call itself, waiting for `at`, when the tenant makes calls; None otherwise (the task remains)."""
        if self._flags is None or not await self._flags.enabled(self._scope.tenant_id, FeatureFlag.CALLS):
            return None
        try:
            queued = await queue_call(
                sessions=self._sessions,
                temporal=self._client,
                tenant_id=self._scope.tenant_id,
                tenant_slug=self._scope.tenant_slug,
                lead_id=self._scope.lead_id,
                attempt_key=f"ai-callback:{local:%Y%m%dT%H%M}",
                origin="ai_callback",
                not_before=at.astimezone(UTC),
            )
        except CallNotPossible:
            return None
        return queued.call_id

    async def _stop_sequences(self, args: StopSequencesArgs) -> dict[str, Any]:
        stopped = 0
        for workflow_id in self._scope.active_enrollments:
            handle = self._client.get_workflow_handle_for(SequenceWorkflow.run, workflow_id)
            control = EnrollmentControl(actor=AI_ACTOR, reason=args.reason or "the lead asked the AI agent to stop")
            try:
                await handle.execute_update(SequenceWorkflow.stop, control)
                stopped += 1
            except (WorkflowUpdateFailedError, RPCError):
                continue  # ended meanwhile: nothing to stop
        return {"ok": True, "stopped": stopped}

    async def _timeline(self, kind: str, data: dict[str, Any], *, key: str) -> None:
        async with self._sessions() as session, session.begin():
            await TimelineRepository(session).record(
                tenant_id=self._scope.tenant_id,
                lead_id=self._scope.lead_id,
                kind=kind,
                actor=AI_ACTOR,
                data=data,
                idempotency_key=f"{self._scope.turn_key}:{key}:timeline",
            )

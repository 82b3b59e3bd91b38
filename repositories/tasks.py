"""SQL for sequence tasks: create once per step execution, close once, escalate once, an agent's open tasks."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update

from models import Lead, Task
from repositories.base import Repository

# The note of a callback task a corrected disposition cancelled: the one kind of closed task asking again reopens.
CALLBACK_REPLACED = "the call's disposition changed"


def _callback_keys_of(call_id: uuid.UUID | str) -> str:
    return f"call-callback:{call_id}:"


def callback_task_key(call_id: uuid.UUID | str, at: datetime) -> str:
    """The key of the task a call's "call me back at `at`" disposition creates: one per call and time."""
    return _callback_keys_of(call_id) + at.isoformat()


@dataclass(frozen=True, slots=True)
class TaskWithLead:
    """A task with the name and phone of its lead, read in the same statement: a list names each task's lead
    without a query per row."""

    task: Task
    lead_name: str
    lead_phone: str


def _with_lead() -> Select[Task, str, str]:
    return select(Task, Lead.name, Lead.phone).join(Lead, Lead.id == Task.lead_id)


class TaskRepository(Repository[Task]):
    model = Task

    async def create_once(self, values: dict[str, Any]) -> Task:
        """The task for `values["idempotency_key"]`, inserted if absent (a re-run returns the first one)."""
        return await self._insert_once("idempotency_key", values, status="open")

    async def get(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
        return await self.in_tenant(tenant_id=tenant_id, row_id=task_id)

    async def get_with_lead(
        self, *, tenant_id: uuid.UUID, task_id: uuid.UUID, fresh: bool = False
    ) -> TaskWithLead | None:
        """The task with its lead's name and phone (the API's answers name the lead); `fresh` re-reads a row this
        session already holds (the workflow's activity wrote it meanwhile)."""
        statement = _with_lead().where(Task.tenant_id == tenant_id, Task.id == task_id)
        if fresh:
            statement = statement.execution_options(populate_existing=True)
        row = (await self.session.execute(statement)).one_or_none()
        return TaskWithLead(row[0], row[1], row[2]) if row is not None else None

    async def close(
        self,
        *,
        tenant_id: uuid.UUID,
        task_id: uuid.UUID,
        status: str,
        actor: str,
        note: str | None,
        at: datetime,
        outcome: str | None = None,
    ) -> bool:
        """Move an open task to `status`; False when it was not open (closed before: the first close stands)."""
        return await self._touched(
            update(Task)
            .where(Task.tenant_id == tenant_id, Task.id == task_id, Task.status == "open")
            .values(status=status, closed_at=at, closed_by=actor, note=note, outcome=outcome)
        )

    async def call_back(
        self, *, lead: Lead, title_note: str, happened: str, due_at: datetime, key: str, reopen_replaced: bool = False
    ) -> Task:
        """A task for the lead's owner, once per `key`: "Call back <lead><title_note>", "<phone> <happened>".

        `reopen_replaced`: a task of this key that a corrected disposition cancelled is open again (the same time
        asked for once more); one a person closed stays closed."""
        if reopen_replaced:
            await self.session.execute(
                update(Task)
                .where(Task.idempotency_key == key, Task.status == "cancelled", Task.note == CALLBACK_REPLACED)
                .values(status="open", closed_at=None, closed_by=None, note=None, due_at=due_at)
            )
        return await self.create_once(
            {
                "tenant_id": lead.tenant_id,
                "lead_id": lead.id,
                "title": f"Call back {lead.name or lead.phone}{title_note}",
                "description": f"{lead.phone} {happened}",
                "assignee_id": lead.owner_id,
                "due_at": due_at,
                "blocks_enrollment": False,
                "idempotency_key": key,
            }
        )

    async def cancel_call_callbacks(
        self, *, tenant_id: uuid.UUID, call_id: uuid.UUID | str, keep_key: str | None, actor: str, at: datetime
    ) -> None:
        """Cancel the call's open callback tasks but `keep_key`'s: a corrected disposition replaces the callback an
        earlier one asked for (another time, or none)."""
        await self.session.execute(
            update(Task)
            .where(
                Task.tenant_id == tenant_id,
                Task.status == "open",
                Task.idempotency_key.startswith(_callback_keys_of(call_id), autoescape=True),
                Task.idempotency_key != (keep_key or ""),
            )
            .values(status="cancelled", closed_at=at, closed_by=actor[:80], note=CALLBACK_REPLACED)
        )

    async def mark_escalated(self, *, task_id: uuid.UUID, at: datetime) -> bool:
        return await self._touched(
            update(Task).where(Task.id == task_id, Task.escalated_at.is_(None)).values(escalated_at=at)
        )

    async def open_for(
        self, *, tenant_id: uuid.UUID, assignee_id: uuid.UUID | None = None, limit: int = 200
    ) -> list[Task]:
        """Open tasks, due first (an agent's inbox when `assignee_id` is given)."""
        query = self._where_given(
            select(Task).where(Task.tenant_id == tenant_id, Task.status == "open"), assignee_id=assignee_id
        )
        return await self._all(query.order_by(Task.due_at, Task.id).limit(limit))

    async def task_inbox(
        self,
        *,
        tenant_id: uuid.UUID,
        assignee_id: uuid.UUID | None,
        status: str,
        limit: int,
        lead_id: uuid.UUID | None = None,
    ) -> list[TaskWithLead]:
        """Tasks in `status`, due first, each with its lead's name and phone; `assignee_id` None means every
        assignee; `lead_id`: that lead's only."""
        statement = _with_lead().where(Task.tenant_id == tenant_id, Task.status == status)
        if assignee_id is not None:
            statement = statement.where(Task.assignee_id == assignee_id)
        if lead_id is not None:
            statement = statement.where(Task.lead_id == lead_id)
        result = await self.session.execute(statement.order_by(Task.due_at, Task.id).limit(limit))
        return [TaskWithLead(task, name, phone) for task, name, phone in result.all()]

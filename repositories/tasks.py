"""SQL for sequence tasks: create once per step execution, close once, escalate once, an agent's open tasks."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from models import Task
from repositories.base import Repository


class TaskRepository(Repository[Task]):
    model = Task

    async def create_once(self, values: dict[str, Any]) -> Task:
        """The task for `values["idempotency_key"]`, inserted if absent (a re-run returns the first one)."""
        await self.session.execute(
            insert(Task)
            .values(id=uuid.uuid4(), status="open", **values)
            .on_conflict_do_nothing(index_elements=[Task.idempotency_key])
        )
        result = await self.session.execute(
            select(Task)
            .where(Task.idempotency_key == values["idempotency_key"])
            .execution_options(populate_existing=True)
        )
        return result.scalar_one()

    async def get(self, *, tenant_id: uuid.UUID, task_id: uuid.UUID, fresh: bool = False) -> Task | None:
        """`fresh` re-reads a row this session already holds (the workflow's activity wrote it meanwhile)."""
        return await self.in_tenant(tenant_id=tenant_id, row_id=task_id, fresh=fresh)

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
        result = await self.session.execute(
            update(Task)
            .where(Task.tenant_id == tenant_id, Task.id == task_id, Task.status == "open")
            .values(status=status, closed_at=at, closed_by=actor, note=note, outcome=outcome)
            .returning(Task.id)
        )
        return result.scalar_one_or_none() is not None

    async def mark_escalated(self, *, task_id: uuid.UUID, at: datetime) -> bool:
        result = await self.session.execute(
            update(Task)
            .where(Task.id == task_id, Task.escalated_at.is_(None))
            .values(escalated_at=at)
            .returning(Task.id)
        )
        return result.scalar_one_or_none() is not None

    async def open_for(
        self, *, tenant_id: uuid.UUID, assignee_id: uuid.UUID | None = None, limit: int = 200
    ) -> list[Task]:
        """Open tasks, due first (an agent's inbox when `assignee_id` is given)."""
        query = select(Task).where(Task.tenant_id == tenant_id, Task.status == "open")
        if assignee_id is not None:
            query = query.where(Task.assignee_id == assignee_id)
        result = await self.session.execute(query.order_by(Task.due_at, Task.id).limit(limit))
        return list(result.scalars())

    async def task_inbox(
        self,
        *,
        tenant_id: uuid.UUID,
        assignee_id: uuid.UUID | None,
        status: str,
        limit: int,
        lead_id: uuid.UUID | None = None,
    ) -> list[Task]:
        """Tasks in `status`, due first; `assignee_id` None means every assignee; `lead_id`: that lead's only."""
        statement = select(Task).where(Task.tenant_id == tenant_id, Task.status == status)
        if assignee_id is not None:
            statement = statement.where(Task.assignee_id == assignee_id)
        if lead_id is not None:
            statement = statement.where(Task.lead_id == lead_id)
        result = await self.session.execute(statement.order_by(Task.due_at, Task.id).limit(limit))
        return list(result.scalars())

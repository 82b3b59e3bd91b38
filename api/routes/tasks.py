"""The task inbox under /api/v1/tasks: list, complete, skip (`task:work`; agents their own tasks only).

Completing or skipping goes through the waiting enrollment's workflow update, so the sequence moves on at once.
Another agent's or another tenant's task is a 404; a task closed before is a 409.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.schemas.tasks import TaskActionRequest, TaskPublic, TaskStatus
from api.scopes import SequenceScope
from api.security import TaskWorker
from api.services import tasks as service

router = APIRouter(prefix="/tasks", tags=["tasks"])


CLOSED: dict[int | str, dict[str, Any]] = {409: {"description": "the task is not open (completed or skipped before)"}}


@router.get("")
async def list_tasks(
    principal: TaskWorker,
    session: SessionDep,
    assignee: Annotated[
        str, Query(max_length=36, description="'me' (default), or for owner/admin 'all' or a user id")
    ] = "me",
    status: TaskStatus = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    lead_id: Annotated[uuid.UUID | None, Query(description="only this lead's tasks")] = None,
) -> list[TaskPublic]:
    """The caller's inbox: open tasks, due first (overdue ones flagged)."""
    return await service.inbox(
        session=session, principal=principal, assignee=assignee, status=status, limit=limit, lead_id=lead_id
    )


@router.get("/{task_id}")
async def get_task(task_id: uuid.UUID, principal: TaskWorker, session: SessionDep) -> TaskPublic:
    task = await service.get_task(session=session, principal=principal, task_id=task_id)
    return service.to_public(task, datetime.now(UTC))


def _action_route(path: str, status: str, description: str) -> None:
    """POST /tasks/{id}/<path>: close the task as `status`, through its enrollment's workflow when one waits."""

    @router.post(f"/{{task_id}}/{path}", responses=CLOSED, name=f"{path}_task", description=description)
    async def act(
        task_id: uuid.UUID,
        principal: TaskWorker,
        scope: SequenceScope,
        data: TaskActionRequest | None = None,
    ) -> TaskPublic:
        note, outcome = (data.note, data.outcome) if data else (None, None)
        return await service.act(
            **scope.kwargs, principal=principal, task_id=task_id, status=status, note=note, outcome=outcome
        )


_action_route("complete", "completed", "Mark the task done; the enrollment waiting on it goes on to its next step.")
_action_route("skip", "skipped", "Skip the task; the enrollment goes on to its next step.")

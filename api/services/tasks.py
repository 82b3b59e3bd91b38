"""The task inbox and acting on a task: complete or skip it through the waiting enrollment's workflow update.

Who sees what: an agent works only tasks assigned to them (another agent's task is a 404, like a missing one);
owners and admins see and act on every task of the tenant. An agent's inbox belongs to a person, so an agent API key
(which is no person) is refused with 403. A task its enrollment waits for is closed through the enrollment's workflow
update (the sequence must hear of it; the update writes the row before it answers); a task the sequence does not wait
for (`wait_for_completion: false`) is closed here directly. Either way a task closed before is a 409.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.base import from_row
from api.schemas.tasks import TaskPublic
from api.security import Principal
from api.services import not_found
from api.transaction import end_reads
from core.errors import Conflict, Forbidden, Unprocessable
from domain.permissions import Role
from models import Task, Tenant
from repositories.tasks import TaskRepository, TaskWithLead
from workflow_clients.sequence import SequenceWorkflowClient


def _sees_every_task(principal: Principal) -> bool:
    return principal.role in (Role.OWNER, Role.ADMIN)


def _person(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise Forbidden("tasks belong to people: log in as the agent (an agent API key has no task inbox)")
    return principal.user_id


def to_public(row: TaskWithLead, now: datetime) -> TaskPublic:
    task = row.task
    return from_row(
        TaskPublic,
        task,
        lead_name=row.lead_name,
        lead_phone=row.lead_phone,
        overdue=task.status == "open" and task.due_at < now,
    )


async def inbox(
    *,
    session: AsyncSession,
    principal: Principal,
    assignee: str,
    status: str,
    limit: int,
    lead_id: uuid.UUID | None = None,
) -> list[TaskPublic]:
    """Tasks in `status`, due first. `assignee`: "me" (default), "all" or a user id (the last two: owner/admin)."""
    tenant_id = principal.tenant()
    assignee_id: uuid.UUID | None
    if assignee == "me":
        if principal.user_id is None and _sees_every_task(principal):
            assignee_id = None  # an owner/admin integration key: "me" is nobody, so the whole tenant
        else:
            assignee_id = _person(principal)
    else:
        if not _sees_every_task(principal):
            raise Forbidden("agents see their own tasks only; leave out 'assignee'")
        if assignee == "all":
            assignee_id = None
        else:
            try:
                assignee_id = uuid.UUID(assignee)
            except ValueError:
                raise Unprocessable(
                    "assignee: 'me', 'all' or a user id", details=[{"field": "assignee", "reason": "not a user id"}]
                ) from None
    rows = await TaskRepository(session).task_inbox(
        tenant_id=tenant_id, assignee_id=assignee_id, status=status, limit=limit, lead_id=lead_id
    )
    now = datetime.now(UTC)
    return [to_public(row, now) for row in rows]


async def get_task(
    *, session: AsyncSession, principal: Principal, task_id: uuid.UUID, fresh: bool = False
) -> TaskWithLead:
    """The task (with its lead's name and phone) if the caller may work it; 404 for a missing one, another
    tenant's, or another agent's."""
    row = await TaskRepository(session).get_with_lead(tenant_id=principal.tenant(), task_id=task_id, fresh=fresh)
    if row is None or (not _sees_every_task(principal) and row.task.assignee_id != _person(principal)):
        raise not_found("task", task_id)
    return row


async def act(
    *,
    session: AsyncSession,
    workflows: SequenceWorkflowClient,
    tenant: Tenant,
    principal: Principal,
    task_id: uuid.UUID,
    status: str,
    note: str | None,
    outcome: str | None = None,
) -> TaskPublic:
    """Complete or skip (`status`) an open task through its enrollment's workflow, with the agent's `outcome` and
    note; 409 when it is not open any more."""
    task = (await get_task(session=session, principal=principal, task_id=task_id)).task
    if task.status != "open":
        raise Conflict(
            f"task '{task.title}' is already {task.status}", details={"task_id": str(task.id), "status": task.status}
        )
    if not task.blocks_enrollment:
        return await _close_directly(
            session=session, principal=principal, task=task, status=status, note=note, outcome=outcome
        )
    if task.enrollment_id is None:
        raise Conflict("this task belongs to no sequence enrollment", details={"task_id": str(task.id)})
    enrollment_id = task.enrollment_id
    await end_reads(session)
    operation = workflows.complete_task if status == "completed" else workflows.skip_task
    await operation(
        tenant_slug=tenant.slug,
        enrollment_id=enrollment_id,
        task_id=task.id,
        actor=principal.actor,
        note=note,
        outcome=outcome,
    )
    fresh = await get_task(session=session, principal=principal, task_id=task_id, fresh=True)
    return to_public(fresh, datetime.now(UTC))


async def _close_directly(
    *, session: AsyncSession, principal: Principal, task: Task, status: str, note: str | None, outcome: str | None
) -> TaskPublic:
    """A task no enrollment waits for: only its row changes (a concurrent close wins; this one is then a 409)."""
    closed = await TaskRepository(session).close(
        tenant_id=task.tenant_id,
        task_id=task.id,
        status=status,
        actor=principal.actor,
        note=note,
        outcome=outcome,
        at=datetime.now(UTC),
    )
    if not closed:
        raise Conflict(f"task '{task.title}' was closed meanwhile", details={"task_id": str(task.id)})
    fresh = await get_task(session=session, principal=principal, task_id=task.id, fresh=True)
    return to_public(fresh, datetime.now(UTC))

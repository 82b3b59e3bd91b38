"""The callback task a call's disposition asks for, kept in line with the disposition the call row holds.

A `callback_requested` disposition with a `callback_at` puts "Call back <lead>" on the lead's owner's list, due
then; a corrected disposition (another time, or no callback) cancels the task an earlier one asked for, and asking
again for a time cancelled before reopens that task. The call's workflow (its `call.tell_lead` activity) and the
API (a disposition on the row once the workflow has closed) both come here after writing the row, in the
transaction that holds the call row's lock: concurrent corrections are applied one after the other, and each
brings the tasks in line with the row as it is then, so the latest disposition wins whatever order they ran in.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.calls import CallDisposition
from models import Call
from repositories.leads import LeadRepository
from repositories.tasks import TaskRepository, callback_task_key


async def sync_callback_task(session: AsyncSession, *, call_id: uuid.UUID, actor: str) -> None:
    """Lock the call row, then cancel or (re)open its callback tasks as its disposition says (caller commits)."""
    call = await session.get(Call, call_id, with_for_update=True, populate_existing=True)
    if call is None:
        return
    at = call.callback_at if call.disposition == CallDisposition.CALLBACK_REQUESTED.value else None
    key = callback_task_key(call.id, at) if at is not None else None
    tasks = TaskRepository(session)
    await tasks.cancel_call_callbacks(
        tenant_id=call.tenant_id, call_id=call.id, keep_key=key, actor=actor, at=datetime.now(UTC)
    )
    if at is None or key is None:
        return
    lead = await LeadRepository(session).get(tenant_id=call.tenant_id, lead_id=call.lead_id)
    if lead is None:
        return
    happened = f"asked to be called back (call disposition by {call.disposition_by or actor})."
    await tasks.call_back(lead=lead, title_note="", happened=happened, due_at=at, key=key, reopen_replaced=True)

"""Per-tenant lead statuses, each mapped onto a canonical stage. Never commits; the caller does.

Invariants kept here: keys are slugs unique per tenant; at least one status of stage `new` remains (a new lead
needs somewhere to start); a status some lead is in can be neither deleted nor moved to another stage (the lead's
stage and its workflow's state machine would no longer agree); at most one status is the default, and it is of
stage `new`. Mutations lock the tenant's statuses first, so two concurrent edits cannot break an invariant together.
"""

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.services.users import invalid
from core.errors import Conflict, NotFound
from core.validation_messages import readable_pattern
from domain.stages import Stage
from models import StatusDefinition
from repositories.statuses import StatusRepository

KEY_RULE = "lower-case letters, digits, '-' and '_', starting and ending with a letter or digit, such as follow_up"
KEY_PATTERN = readable_pattern(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$", KEY_RULE)
_KEY = re.compile(KEY_PATTERN)


def _find(statuses: list[StatusDefinition], key: str) -> StatusDefinition:
    for status in statuses:
        if status.key == key:
            return status
    raise NotFound(f"no status '{key}' in this tenant")


def _is_only_new(statuses: list[StatusDefinition], status: StatusDefinition) -> bool:
    return status.stage == Stage.NEW and sum(s.stage == Stage.NEW for s in statuses) == 1


async def list_statuses(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[StatusDefinition]:
    return await StatusRepository(session).list(tenant_id=tenant_id)


async def create_status(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key: str,
    label: str,
    stage: Stage,
    position: int | None = None,
    is_default: bool = False,
) -> StatusDefinition:
    """Add a status; 409 when the key is taken, 422 when a default is not of stage `new`."""
    if not _KEY.match(key):
        raise invalid("key", KEY_RULE)
    if is_default and stage != Stage.NEW:
        raise invalid("is_default", "only a status of stage 'new' can be the default for new leads")
    repo = StatusRepository(session)
    statuses = await repo.list_for_update(tenant_id=tenant_id)
    if any(s.key == key for s in statuses):
        raise Conflict(f"a status with the key '{key}' already exists", details={"field": "key"})
    if is_default:
        await repo.clear_default(tenant_id=tenant_id)
    if position is None:
        position = max((s.position for s in statuses), default=-1) + 1
    status = StatusDefinition(
        tenant_id=tenant_id, key=key, label=label, stage=str(stage), position=position, is_default=is_default
    )
    if await repo.add_unless_taken(status) is not None:
        raise Conflict(f"a status with the key '{key}' already exists", details={"field": "key"}) from None
    return status


async def update_status(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key: str,
    label: str | None = None,
    stage: Stage | None = None,
    position: int | None = None,
    is_default: bool | None = None,
) -> StatusDefinition:
    """Change a status's label, stage, position or default flag (None leaves a field as it is)."""
    repo = StatusRepository(session)
    statuses = await repo.list_for_update(tenant_id=tenant_id)
    status = _find(statuses, key)
    if stage is not None and stage != status.stage:
        if _is_only_new(statuses, status):
            raise Conflict(f"'{key}' is the only status of stage 'new'; add another one before moving this one")
        in_use = await repo.count_leads_using(tenant_id=tenant_id, key=key)
        if in_use:
            raise Conflict(
                f"{in_use} lead(s) are in status '{key}'; move them to another status before changing its stage",
                details={"lead_count": in_use},
            )
        status.stage = str(stage)
        if stage != Stage.NEW:
            status.is_default = False
    if is_default:
        if status.stage != Stage.NEW:
            raise invalid("is_default", "only a status of stage 'new' can be the default for new leads")
        if not status.is_default:
            await repo.clear_default(tenant_id=tenant_id)
            status.is_default = True
    elif is_default is False:
        status.is_default = False
    if label is not None:
        status.label = label
    if position is not None:
        status.position = position
    await StatusRepository(session).flush()
    return status


async def delete_status(session: AsyncSession, *, tenant_id: uuid.UUID, key: str) -> None:
    """Delete a status no lead is in; 409 with the count when leads still use it."""
    repo = StatusRepository(session)
    statuses = await repo.list_for_update(tenant_id=tenant_id)
    status = _find(statuses, key)
    in_use = await repo.count_leads_using(tenant_id=tenant_id, key=key)
    if in_use:
        raise Conflict(
            f"{in_use} lead(s) are in status '{key}'; move them to another status first",
            details={"lead_count": in_use},
        )
    if _is_only_new(statuses, status):
        raise Conflict(f"'{key}' is the only status of stage 'new'; a tenant needs one for its new leads")
    await repo.delete(status)

"""Sequence definition use cases: create, edit the draft, publish a frozen version, archive, preview.

Services never commit (the request session does). Every definition is validated with
domain.sequences.parse_definition against the tenant's own status keys, on save AND on publish (a status may have
been deleted since the draft was saved), and stored normalised (step ids assigned, durations as objects), so a
version read back by a workflow is exactly what was validated. A task step's named assignee must be an active user
of the tenant. Another tenant's sequence is a 404 like a missing one.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.idempotency import IdempotencyKeyReused, fingerprint
from api.schemas.base import from_row
from api.schemas.sequences import (
    SequenceCreate,
    SequencePreview,
    SequencePreviewRequest,
    SequencePublic,
    SequenceUpdate,
    SequenceVersionPublic,
)
from api.services import found
from api.services.leads import get_lead, parse_phone
from core.errors import Conflict, NotFound, Unprocessable
from domain.sequences.definition import (
    MAX_STEPS_READ,
    DefinitionError,
    SequenceDefinition,
    SequenceDefinitionError,
    parse_definition,
)
from domain.sequences.preview import preview as preview_timeline
from domain.stages import Stage
from models import Lead, Sequence, SequenceVersion, Tenant
from repositories.sequences import SequenceRepository
from repositories.statuses import StatusRepository
from repositories.users import UserRepository
from workflow_clients.sequence import lead_fields, lead_timezone


async def status_stages(*, session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Stage]:
    """The tenant's status keys and the stage each maps to (what `set_status` steps and exit rules refer to)."""
    return {s.key: Stage(s.stage) for s in await StatusRepository(session).list(tenant_id=tenant_id)}


async def _validated(
    *, session: AsyncSession, tenant_id: uuid.UUID, data: Mapping[str, Any], stages: Mapping[str, Stage]
) -> dict[str, Any]:
    """The definition normalised for storage, or SequenceDefinitionError (422 with every `{path, message}`).

    Beyond domain.sequences' rules: a task's named assignee must be an active user of this tenant. That is checked
    on the steps as sent, so it is reported together with the definition's own problems.
    """
    errors = await _assignee_errors(session=session, tenant_id=tenant_id, steps=data.get("steps"))
    try:
        definition = parse_definition(dict(data), status_stages=stages)
    except SequenceDefinitionError as invalid:
        raise SequenceDefinitionError(invalid.errors + errors) from None
    if errors:
        raise SequenceDefinitionError(errors)
    return definition.model_dump(mode="json")


async def _assignee_errors(*, session: AsyncSession, tenant_id: uuid.UUID, steps: Any) -> list[DefinitionError]:
    """A task step naming someone who is not an active user of the tenant (the shape itself is the domain's)."""
    if not isinstance(steps, list) or len(steps) > MAX_STEPS_READ:
        return []
    errors = []
    users = UserRepository(session)
    for i, step in enumerate(steps):
        assignee = step.get("assignee") if isinstance(step, dict) and step.get("type") == "task" else None
        if not isinstance(assignee, str) or assignee == "lead_owner":
            continue
        try:
            user = await users.get(tenant_id=tenant_id, user_id=uuid.UUID(assignee))
        except ValueError:
            user = None
        if user is None or not user.is_active:
            errors.append(
                DefinitionError(
                    path=f"steps[{i}].assignee",
                    message=f"'{assignee}' is not an active user of this tenant; use \"lead_owner\" or a user id",
                )
            )
    return errors


def _steps_and_settings(definition: dict[str, Any]) -> dict[str, Any]:
    return {"steps": definition.get("steps", []), "settings": definition.get("settings", {})}


def to_public(sequence: Sequence) -> SequencePublic:
    return from_row(SequencePublic, sequence, **_steps_and_settings(sequence.definition))


def version_to_public(version: SequenceVersion) -> SequenceVersionPublic:
    return from_row(SequenceVersionPublic, version, **_steps_and_settings(version.definition))


@dataclass(frozen=True)
class SequenceCreation:
    sequence: Sequence
    replayed: bool  # an earlier request with the same Idempotency-Key and body created it


async def create_sequence(
    *, session: AsyncSession, tenant_id: uuid.UUID, data: SequenceCreate, actor: str, idempotency_key: str | None = None
) -> SequenceCreation:
    """Validate and insert a draft (not committed), or answer the draft an earlier request with this key created."""
    sequences = SequenceRepository(session)
    request_fingerprint = fingerprint(data.model_dump(mode="json"))
    if idempotency_key is not None:
        earlier = await _created_with_key(sequences, tenant_id=tenant_id, key=idempotency_key, fp=request_fingerprint)
        if earlier is not None:
            return SequenceCreation(sequence=earlier, replayed=True)
    stages = await status_stages(session=session, tenant_id=tenant_id)
    definition = await _validated(
        session=session, tenant_id=tenant_id, data={"steps": data.steps, "settings": data.settings}, stages=stages
    )
    sequence = Sequence(
        tenant_id=tenant_id,
        name=data.name,
        description=data.description,
        status="draft",
        definition=definition,
        has_unpublished_changes=True,
        created_by=actor,
        create_idempotency_key=idempotency_key,
        create_fingerprint=request_fingerprint,
    )
    if (taken := await sequences.add_unless_taken(sequence)) is not None:
        # Only the key is unique: a concurrent request with it committed between our lookup and our insert.
        if idempotency_key is None:
            raise taken
        raced = await _created_with_key(sequences, tenant_id=tenant_id, key=idempotency_key, fp=request_fingerprint)
        if raced is None:
            raise taken
        return SequenceCreation(sequence=raced, replayed=True)
    return SequenceCreation(sequence=sequence, replayed=False)


async def _created_with_key(
    sequences: SequenceRepository, *, tenant_id: uuid.UUID, key: str, fp: str
) -> Sequence | None:
    """The sequence created by an earlier request with this key; 422 if that request had another body."""
    earlier = await sequences.get_by_create_idempotency_key(tenant_id=tenant_id, key=key)
    if earlier is not None and earlier.create_fingerprint != fp:
        raise IdempotencyKeyReused(key, resource="sequence", resource_id=str(earlier.id))
    return earlier


async def list_sequences(*, session: AsyncSession, tenant_id: uuid.UUID, status: str | None) -> list[Sequence]:
    return await SequenceRepository(session).list(tenant_id=tenant_id, status=status)


async def get_sequence(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID, for_update: bool = False
) -> Sequence:
    sequence = await SequenceRepository(session).get(
        tenant_id=tenant_id, sequence_id=sequence_id, for_update=for_update
    )
    return found(sequence, "sequence", sequence_id)


async def update_sequence(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID, data: SequenceUpdate
) -> Sequence:
    """Apply the fields sent to the draft (not committed). Published versions are untouched."""
    sequence = await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id, for_update=True)
    if sequence.status == "archived":
        raise Conflict(
            f"sequence '{sequence.name}' is archived and cannot be edited", details={"sequence_id": str(sequence.id)}
        )
    sent = data.model_fields_set
    if "name" in sent:
        if data.name is None:
            raise _unprocessable_name()
        sequence.name = data.name
    if "description" in sent:
        sequence.description = data.description
    if sent & {"steps", "settings"}:
        current = sequence.definition
        merged = {
            "steps": data.steps if "steps" in sent and data.steps is not None else current.get("steps", []),
            "settings": data.settings if "settings" in sent and data.settings is not None else current.get("settings"),
        }
        stages = await status_stages(session=session, tenant_id=tenant_id)
        definition = await _validated(session=session, tenant_id=tenant_id, data=merged, stages=stages)
        if definition != current:
            sequence.definition = definition
            sequence.has_unpublished_changes = True
    return await SequenceRepository(session).refresh(sequence)


def _unprocessable_name() -> Unprocessable:
    return Unprocessable("name: a sequence needs a name", details=[{"path": "name", "message": "required"}])


async def publish(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID, actor: str
) -> tuple[Sequence, SequenceVersion]:
    """Freeze the draft as version n+1 and make it the one new enrollments start on (not committed).

    Publishing a draft unchanged since the latest version answers that version again, so a retried publish does
    not mint a duplicate. The row lock serialises concurrent publishes of one sequence.
    """
    repository = SequenceRepository(session)
    sequence = await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id, for_update=True)
    if sequence.status == "archived":
        raise Conflict(
            f"sequence '{sequence.name}' is archived and cannot be published",
            details={"sequence_id": str(sequence.id)},
        )
    if sequence.latest_version is not None and not sequence.has_unpublished_changes:
        latest = await repository.get_version(
            tenant_id=tenant_id, sequence_id=sequence.id, version=sequence.latest_version
        )
        if latest is not None:
            return sequence, latest
    stages = await status_stages(session=session, tenant_id=tenant_id)
    definition = await _validated(session=session, tenant_id=tenant_id, data=sequence.definition, stages=stages)
    number = await repository.max_version(sequence_id=sequence.id) + 1
    version = await repository.add_version(
        SequenceVersion(
            tenant_id=tenant_id, sequence_id=sequence.id, version=number, definition=definition, published_by=actor
        )
    )
    sequence.definition = definition
    sequence.latest_version = number
    sequence.has_unpublished_changes = False
    sequence.status = "active"
    await repository.refresh(sequence)
    return sequence, version


async def archive(*, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> Sequence:
    """No new enrollments from now on; running ones keep going (not committed). Archiving twice is a no-op."""
    sequence = await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id, for_update=True)
    if sequence.status != "archived":
        sequence.status = "archived"
        sequence.archived_at = datetime.now(UTC)
        await SequenceRepository(session).refresh(sequence)
    return sequence


async def list_versions(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID
) -> list[SequenceVersion]:
    await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id)
    return await SequenceRepository(session).list_versions(tenant_id=tenant_id, sequence_id=sequence_id)


async def get_version(
    *, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID, version: int
) -> SequenceVersion:
    await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id)
    found = await SequenceRepository(session).get_version(tenant_id=tenant_id, sequence_id=sequence_id, version=version)
    if found is None:
        raise NotFound(
            f"sequence {sequence_id} has no version {version}",
            details={"sequence_id": str(sequence_id), "version": version},
        )
    return found


# Preview -----------------------------------------------------------------------------------------------------------


async def preview(
    *, session: AsyncSession, tenant: Tenant, sequence_id: uuid.UUID, data: SequencePreviewRequest
) -> SequencePreview:
    """The timeline a new enrollment would follow (domain.sequences.preview, the workflow's own scheduling code)."""
    sequence = await get_sequence(session=session, tenant_id=tenant.id, sequence_id=sequence_id)
    if data.version is not None:
        stored = (
            await get_version(session=session, tenant_id=tenant.id, sequence_id=sequence.id, version=data.version)
        ).definition
    else:
        stored = sequence.definition
    definition = SequenceDefinition.model_validate(stored)
    if data.lead_id is not None:
        lead = await get_lead(session=session, tenant_id=tenant.id, lead_id=data.lead_id)
    else:
        # A sample lead, never stored: the same helpers then derive its fields and zone as for an enrollment.
        phone = parse_phone(data.phone or "", region=tenant.default_region)
        lead = Lead(tenant_id=tenant.id, phone=phone, name=data.name or "", email=None, custom_fields={})
    zone = lead_timezone(lead, tenant, definition)
    fields = lead_fields(lead)
    start_at = (data.start_at or datetime.now(UTC)).astimezone(UTC)
    stages = await status_stages(session=session, tenant_id=tenant.id)
    steps = preview_timeline(
        definition, start_at=start_at, lead_timezone=zone, lead_fields=fields, status_stages=stages
    )
    return SequencePreview(
        sequence_id=sequence.id,
        version=data.version,
        phone=lead.phone,
        lead_id=data.lead_id,
        timezone=zone,
        start_at=start_at,
        steps=steps,
    )

"""The sequences REST API under /api/v1/sequences: drafts, publish (frozen versions), archive, versions, preview.

Owner/admin write (`sequence:manage`), everyone in the tenant reads (`sequence:read`). Another tenant's sequence is a
404. An invalid definition is a 422 whose `details` list every problem as `{path, message}` (`steps[2].text`).
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.deps import SessionDep
from api.idempotency import REPLAYED_HEADER, IdempotencyKey
from api.schemas.sequences import (
    MAX_VERSION,
    SequenceCreate,
    SequencePreview,
    SequencePreviewRequest,
    SequencePublic,
    SequenceStats,
    SequenceStatus,
    SequenceUpdate,
    SequenceVersionPublic,
)
from api.security import CurrentTenant, SequenceManager, SequenceReader
from api.services import sequence_stats
from api.services import sequences as service

router = APIRouter(prefix="/sequences", tags=["sequences"])


INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid definition; details: [{path, message}] e.g. path 'steps[2].text'"}
}


@router.post(
    "",
    status_code=201,
    responses={422: {"description": f"{INVALID[422]['description']}; or an Idempotency-Key used with another body"}},
)
async def create_sequence(
    data: SequenceCreate,
    principal: SequenceManager,
    session: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> SequencePublic:
    """Save a new draft. Publish it to let leads be enrolled.

    The same Idempotency-Key again answers the draft the first request saved (201) instead of saving another; with
    another body it is 422.
    """
    creation = await service.create_sequence(
        session=session, tenant_id=principal.tenant(), data=data, actor=principal.actor, idempotency_key=idempotency_key
    )
    if creation.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return service.to_public(creation.sequence)


@router.get("")
async def list_sequences(
    principal: SequenceReader, session: SessionDep, status: Annotated[SequenceStatus | None, Query()] = None
) -> list[SequencePublic]:
    """The tenant's sequences, newest first."""
    sequences = await service.list_sequences(session=session, tenant_id=principal.tenant(), status=status)
    return [service.to_public(s) for s in sequences]


@router.get("/{sequence_id}")
async def get_sequence(sequence_id: uuid.UUID, principal: SequenceReader, session: SessionDep) -> SequencePublic:
    sequence = await service.get_sequence(session=session, tenant_id=principal.tenant(), sequence_id=sequence_id)
    return service.to_public(sequence)


@router.patch("/{sequence_id}", responses={**INVALID, 409: {"description": "the sequence is archived"}})
async def update_sequence(
    sequence_id: uuid.UUID, data: SequenceUpdate, principal: SequenceManager, session: SessionDep
) -> SequencePublic:
    """Edit the draft (fields sent only). Running enrollments keep their version; publish again for a new one."""
    sequence = await service.update_sequence(
        session=session, tenant_id=principal.tenant(), sequence_id=sequence_id, data=data
    )
    return service.to_public(sequence)


@router.post("/{sequence_id}/publish", responses={**INVALID, 409: {"description": "the sequence is archived"}})
async def publish_sequence(
    sequence_id: uuid.UUID, principal: SequenceManager, session: SessionDep
) -> SequenceVersionPublic:
    """Freeze the draft as the next version; new enrollments start on it. An unchanged draft answers the latest."""
    _, version = await service.publish(
        session=session, tenant_id=principal.tenant(), sequence_id=sequence_id, actor=principal.actor
    )
    return service.version_to_public(version)


@router.post("/{sequence_id}/archive")
async def archive_sequence(sequence_id: uuid.UUID, principal: SequenceManager, session: SessionDep) -> SequencePublic:
    """No new enrollments; running enrollments carry on to their end."""
    sequence = await service.archive(session=session, tenant_id=principal.tenant(), sequence_id=sequence_id)
    return service.to_public(sequence)


@router.get("/{sequence_id}/versions")
async def list_versions(
    sequence_id: uuid.UUID, principal: SequenceReader, session: SessionDep
) -> list[SequenceVersionPublic]:
    """Published versions, newest first."""
    versions = await service.list_versions(session=session, tenant_id=principal.tenant(), sequence_id=sequence_id)
    return [service.version_to_public(v) for v in versions]


@router.get("/{sequence_id}/versions/{version}")
async def get_version(
    sequence_id: uuid.UUID,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="a published version number")],
    principal: SequenceReader,
    session: SessionDep,
) -> SequenceVersionPublic:
    found = await service.get_version(
        session=session, tenant_id=principal.tenant(), sequence_id=sequence_id, version=version
    )
    return service.version_to_public(found)


@router.post("/{sequence_id}/preview")
async def preview_sequence(
    sequence_id: uuid.UUID,
    data: SequencePreviewRequest,
    principal: SequenceReader,
    tenant: CurrentTenant,
    session: SessionDep,
) -> SequencePreview:
    """The timeline an enrollment started at `start_at` would follow: each step in UTC and the lead's local time,
    computed by the scheduling code the workflow runs (assuming no reply and tasks done when due)."""
    return await service.preview(session=session, tenant=tenant, sequence_id=sequence_id, data=data)


@router.get("/{sequence_id}/stats")
async def sequence_stats_of(sequence_id: uuid.UUID, principal: SequenceReader, session: SessionDep) -> SequenceStats:
    """Enrolled, active, completed, exited by reason, replies, and per-step sends and failures (all versions)."""
    return await sequence_stats.sequence_stats(session=session, tenant_id=principal.tenant(), sequence_id=sequence_id)

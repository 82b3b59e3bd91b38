"""A sequence's stats, read from the rows its enrollments' workflows mirror (enrollment, enrollment_step).

Counts cover every version of the sequence. Per-step figures are keyed by step id (stable across versions: an edit
that keeps a step's id keeps its history), listed in the latest version's order, then steps only older versions had.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.sequences import SequenceStats, StepStats
from api.services.sequences import get_sequence
from repositories.enrollments import EnrollmentRepository
from repositories.sequences import SequenceRepository

SEND_RESULT = "sent"
FAILED_RESULT = "failed"


async def sequence_stats(*, session: AsyncSession, tenant_id: uuid.UUID, sequence_id: uuid.UUID) -> SequenceStats:
    sequence = await get_sequence(session=session, tenant_id=tenant_id, sequence_id=sequence_id)
    queries = EnrollmentRepository(session)
    by_status = await queries.status_counts(tenant_id=tenant_id, sequence_id=sequence.id)
    replies, replied = await queries.reply_counts(tenant_id=tenant_id, sequence_id=sequence.id)

    # The latest published version's steps (the draft's until the first publish): what enrollments are running.
    latest_definition = sequence.definition
    if sequence.latest_version is not None:
        version = await SequenceRepository(session).get_version(
            tenant_id=tenant_id, sequence_id=sequence.id, version=sequence.latest_version
        )
        if version is not None:
            latest_definition = version.definition
    order = [(step["id"], step["type"]) for step in latest_definition.get("steps", [])]
    results: dict[str, dict[str, int]] = {step_id: {} for step_id, _ in order}
    types = dict(order)
    for step_id, step_type, outcome, count in await queries.step_result_counts(
        tenant_id=tenant_id, sequence_id=sequence.id
    ):
        results.setdefault(step_id, {})[outcome] = results.get(step_id, {}).get(outcome, 0) + count
        types.setdefault(step_id, step_type)
    latest = {step_id for step_id, _ in order}
    steps = [
        StepStats(
            step_id=step_id,
            type=types[step_id],
            in_latest_version=step_id in latest,
            sends=counts.get(SEND_RESULT, 0),
            failures=counts.get(FAILED_RESULT, 0),
            results=counts,
        )
        for step_id, counts in results.items()
    ]
    return SequenceStats(
        sequence_id=sequence.id,
        enrolled=sum(by_status.values()),
        active=by_status.get("active", 0),
        paused=by_status.get("paused", 0),
        completed=by_status.get("completed", 0),
        exited=by_status.get("exited", 0),
        stopped=by_status.get("stopped", 0),
        exited_by_reason=await queries.exit_reason_counts(tenant_id=tenant_id, sequence_id=sequence.id),
        replies=replies,
        replied_enrollments=replied,
        steps=steps,
    )

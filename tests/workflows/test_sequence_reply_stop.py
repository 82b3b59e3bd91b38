"""A reply's stop on the enrollment row, written in the transaction that stores the reply (the dispatcher's
InboundStore): an enrollment that a reply ends shows `exited`/`replied` at once, while its workflow may wait behind a
burst of bulk work to hear of it; the workflow then ends the same way. A reply that would not end it (`exit_on_reply`
off, a `wait_for_reply` step holding, an opt-out, which ends it as `opted_out`) leaves the row to the workflow."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle

from channels.lead_signals import deliver_signals
from channels.whatsapp.inbound import InboundStore
from core.config import Settings
from models import Enrollment, Lead
from providers.whatsapp.events import InboundKind, InboundMessage
from tests.fixtures.whatsapp import eventually, fresh_wamid
from tests.workflows.sequence_support import SequenceWorld, all_week
from tests.workflows.test_sequence_bursts import BulkSide, _enroll_on, _pending_activity
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentStatus, EnrollmentView

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

ACCOUNT = "reply-stop-account"

# Asleep for an hour before its first send: a reply arrives while it holds.
SEND_LATER = all_week({"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}})
LISTEN = all_week(
    {"id": "listen", "type": "wait_for_reply", "timeout": {"days": 3}, "on_reply": "continue"},
    {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
)


async def _asleep(
    bulk: BulkSide, client: Client, world: SequenceWorld, lead: Lead, definition: dict[str, Any], start_at: datetime
) -> tuple[WorkflowHandle[SequenceWorkflow, EnrollmentView], Enrollment]:
    """An enrollment on `bulk`'s queue, holding, its row mirrored; then no bulk worker at all (as behind a burst)."""
    async with bulk.workflows(), bulk.activities():
        handle = await _enroll_on(client, world, lead, bulk.queue, start_at, definition=definition)
        enrollment_id = uuid.UUID(handle.id.rsplit(":", 1)[1])

        async def holding() -> Enrollment | None:
            row = await world.enrollment_row(enrollment_id)
            # Asleep on its long hold (the send in an hour, the reply window of 3 days), not on a step starting now.
            later = datetime.now(UTC) + timedelta(minutes=30)
            mirrored = row.revision > 0 and row.next_action_at is not None and row.next_action_at > later
            return row if mirrored and await _pending_activity(handle) is None else None

        row = await eventually(holding)
    return handle, row


async def _reply(
    session_factory: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    world: SequenceWorld,
    lead: Lead,
    text: str,
) -> None:
    """What the dispatcher does with the lead's inbound message: store it in one transaction, then signal the lead."""
    event = InboundMessage(
        provider="cloud",
        account_id=ACCOUNT,
        provider_message_id=fresh_wamid(),
        from_phone=lead.phone,
        kind=InboundKind.TEXT,
        text=text,
        timestamp=datetime.now(UTC),
    )
    async with session_factory() as session:
        store = InboundStore(session, settings)
        signals = await store.store_events(
            provider="cloud", raw={}, events=[event], tenant_for={ACCOUNT: world.tenant.id}
        )
        await session.commit()
        await deliver_signals(session=session, temporal=client, signals=signals, settings=settings)


async def test_a_reply_ends_the_enrollment_row_in_its_own_transaction_and_the_workflow_agrees(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    bulk = BulkSide(temporal_client, settings, session_factory)
    lead = await world.lead()
    handle, row = await _asleep(bulk, temporal_client, world, lead, SEND_LATER, datetime.now(UTC) + timedelta(hours=1))
    assert row.status == "active" and row.exits_on_reply_after is not None

    await _reply(session_factory, temporal_client, settings, world, lead, "Sounds interesting, tell me more")
    # No bulk worker: the workflow has not heard of it, yet the row shows the end.
    row = await world.enrollment_row(row.id)
    assert (row.status, row.exit_reason, row.replies) == ("exited", "replied", 1)
    assert row.next_action_at is None and row.ended_at is not None and row.exits_on_reply_after is None

    async with bulk.workflows(), bulk.activities():
        view = await handle.result()
    assert (view.status, view.exit_reason, view.replies) == (EnrollmentStatus.EXITED, "replied", 1)
    row = await world.enrollment_row(row.id)
    assert (row.status, row.exit_reason, row.replies, row.revision) == ("exited", "replied", 1, view.revision)
    assert await world.sent_to(lead) == []


@pytest.mark.parametrize(
    ("definition", "starts_in", "text", "final"),
    [
        # Still holding for its send, the reply counted.
        pytest.param({**SEND_LATER, "settings": {**SEND_LATER["settings"], "exit_on_reply": False}}, 60, "Hi", None,
                     id="exit_on_reply_off"),
        # In its wait_for_reply step from the start: the reply moves it on to its send, and it completes.
        pytest.param(LISTEN, 0, "Yes please", ("completed", None), id="wait_for_reply_holding"),
        pytest.param(SEND_LATER, 60, "STOP", ("exited", "opted_out"), id="opt_out"),
    ],
)  # fmt: skip
async def test_a_reply_that_does_not_end_the_enrollment_leaves_its_row_to_the_workflow(
    temporal_client: Client,
    world: SequenceWorld,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    definition: dict[str, Any],
    starts_in: int,
    text: str,
    final: tuple[str, str | None] | None,
) -> None:
    bulk = BulkSide(temporal_client, settings, session_factory)
    lead = await world.lead()
    starts = datetime.now(UTC) + timedelta(minutes=starts_in)
    handle, row = await _asleep(bulk, temporal_client, world, lead, definition, starts)
    before = (row.status, row.exit_reason, row.replies, row.revision)

    await _reply(session_factory, temporal_client, settings, world, lead, text)
    row = await world.enrollment_row(row.id)
    assert (row.status, row.exit_reason, row.replies, row.revision) == before  # untouched until the workflow runs

    async with bulk.workflows(), bulk.activities():
        if final is None:

            async def counted() -> bool:
                return (await handle.query(SequenceWorkflow.view)).replies == 1

            await eventually(counted)
            assert (await world.enrollment_row(row.id)).status == "active"
        else:
            view = await handle.result()
            assert (view.status.value, view.exit_reason) == final
            row = await world.enrollment_row(row.id)
            assert (row.status, row.exit_reason) == final

"""An AI agent's auto reply through the send activity: written for the conversation as it was read, it goes out only
if the conversation has not moved on by the moment the outbox decides the send (after pacing, in the transaction that
claims it). Each test has its own tenant, sandbox account and recipient number."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from domain import whatsapp_messages as kinds
from domain.ai_agent import ConversationHandler
from models import Message, OutboxMessage, TimelineEvent
from repositories.conversations import ConversationRepository
from tests.activities.test_whatsapp_send import (
    _input,
    _lead,
    _sent_to,
    hold_inbound,
    make_activities,
    sandbox_tenant,
    send_http,
)
from workflows.ai_types import ai_reply_actor

# Fixtures shared with the send tests.
__all__ = ["hold_inbound", "make_activities", "sandbox_tenant", "send_http"]


async def _lead_writes(session_factory, tenant, lead_id: uuid.UUID, text: str) -> None:  # type: ignore[no-untyped-def]
    """A message of the lead, stored as the dispatcher stores one (the conversation's latest inbound)."""
    async with session_factory() as session:
        conversations = ConversationRepository(session)
        conversation = await conversations.get_or_create(tenant_id=tenant.id, lead_id=lead_id, channel="whatsapp")
        now = datetime.now(tz=UTC)
        session.add(
            Message(
                tenant_id=tenant.id,
                conversation_id=conversation.id,
                lead_id=lead_id,
                direction="inbound",
                kind="text",
                body=text,
                provider="sandbox",
                provider_message_id=f"wamid.{uuid.uuid4().hex}",
                status="received",
                occurred_at=now,
            )
        )
        await conversations.record_inbound(conversation_id=conversation.id, at=now, preview=text)
        await session.commit()


def _reply(tenant, lead_id: uuid.UUID, read_at: datetime, step: str = "ai:run:1"):  # type: ignore[no-untyped-def]
    return _input(
        tenant,
        lead_id,
        step,
        text="The fee is one month's rent.",
        requested_by=ai_reply_actor(1),
        conversation_read_at=read_at,
    )


async def _refused_quietly(session_factory, lead_id: uuid.UUID, refusal: ApplicationError) -> None:  # type: ignore[no-untyped-def]
    """Refused for good as moved on; the row says so; the lead's timeline shows no failed send."""
    assert refusal.type == kinds.CONVERSATION_MOVED_ON and refusal.non_retryable
    async with session_factory() as session:
        row = (
            await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.lead_id == lead_id, OutboxMessage.idempotency_key.like("%:ai:run:1")
                )
            )
        ).scalar_one()
        failed = (
            await session.execute(
                select(TimelineEvent).where(
                    TimelineEvent.lead_id == lead_id, TimelineEvent.kind == "whatsapp_send_failed"
                )
            )
        ).all()
    assert (row.state, row.error_code) == ("failed", kinds.CONVERSATION_MOVED_ON)
    assert failed == []


async def test_a_reply_goes_out_when_the_conversation_is_as_it_was_read(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=1))
    await _lead_writes(session_factory, sandbox_tenant, lead_id, "What is the fee?")
    read_at = datetime.now(tz=UTC)

    sent = await ActivityEnvironment().run(
        make_activities().send_whatsapp_message, _reply(sandbox_tenant, lead_id, read_at)
    )

    assert [m["id"] for m in await _sent_to(sandbox_control, phone)] == [sent.provider_message_id]


async def test_a_reply_is_dropped_when_the_lead_wrote_after_it_was_written(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=1))
    read_at = datetime.now(tz=UTC)
    await _lead_writes(session_factory, sandbox_tenant, lead_id, "Actually, is it furnished?")
    data = _reply(sandbox_tenant, lead_id, read_at)

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    await _refused_quietly(session_factory, lead_id, refused.value)
    with pytest.raises(ApplicationError) as again:  # the workflow's own send of the same reply
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert again.value.type == kinds.CONVERSATION_MOVED_ON
    assert await _sent_to(sandbox_control, phone) == []


async def test_a_reply_is_dropped_when_a_person_took_the_conversation_over(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=1))
    read_at = datetime.now(tz=UTC)
    async with session_factory() as session:
        await ConversationRepository(session).set_handler(
            tenant_id=sandbox_tenant.id, lead_id=lead_id, handler=ConversationHandler.HUMAN.value
        )
        await session.commit()

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            make_activities().send_whatsapp_message, _reply(sandbox_tenant, lead_id, read_at)
        )
    await _refused_quietly(session_factory, lead_id, refused.value)
    assert await _sent_to(sandbox_control, phone) == []


async def test_a_message_stored_while_the_reply_waits_for_pacing_drops_it(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    """The reply waits its turn behind a send to the same person a moment ago; the lead writes meanwhile. The check
    comes after the wait, so the reply the new message overtook never goes out."""
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=1))
    acts = make_activities(whatsapp_recipient_min_interval_seconds=1.5, whatsapp_pacing_max_wait_seconds=5.0)
    await ActivityEnvironment().run(acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, "earlier", text="Hi!"))
    read_at = datetime.now(tz=UTC)

    reply = asyncio.create_task(
        ActivityEnvironment().run(acts.send_whatsapp_message, _reply(sandbox_tenant, lead_id, read_at))
    )
    await asyncio.sleep(0.5)
    assert not reply.done(), "the reply did not wait for pacing: the test proves nothing"
    await _lead_writes(session_factory, sandbox_tenant, lead_id, "Wait, one more question")

    with pytest.raises(ApplicationError) as refused:
        await reply
    await _refused_quietly(session_factory, lead_id, refused.value)
    assert [m["text"] for m in await _sent_to(sandbox_control, phone)] == ["Hi!"]


async def test_a_reply_waits_while_a_newer_message_of_the_lead_is_not_handled_yet(
    make_activities, sandbox_tenant, session_factory, sandbox_control, hold_inbound
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=1))
    read_at = datetime.now(tz=UTC) - timedelta(seconds=5)
    await hold_inbound(sandbox_tenant, phone, ago=timedelta(0))

    with pytest.raises(ApplicationError) as waiting:
        await ActivityEnvironment().run(
            make_activities().send_whatsapp_message, _reply(sandbox_tenant, lead_id, read_at)
        )

    assert waiting.value.type == kinds.THROTTLED and not waiting.value.non_retryable
    assert await _sent_to(sandbox_control, phone) == []


async def test_a_reply_to_a_lead_who_said_stop_or_out_of_the_window_is_refused(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    """A reply's one read of the conversation also gives the opt-out and the last inbound message: a conversation
    opted out (whatever the lead's stage) and a lead who last wrote 25 hours ago get nothing."""
    stopped, stopped_phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    async with session_factory() as session:
        await ConversationRepository(session).mark_opted_out(
            tenant_id=sandbox_tenant.id, lead_id=stopped, at=datetime.now(tz=UTC)
        )
        await session.commit()
    silent, silent_phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=25))
    read_at = datetime.now(tz=UTC)

    for lead_id, refusal in ((stopped, kinds.LEAD_OPTED_OUT), (silent, kinds.WINDOW_CLOSED)):
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(
                make_activities().send_whatsapp_message, _reply(sandbox_tenant, lead_id, read_at)
            )
        assert (refused.value.type, refused.value.non_retryable) == (refusal, True)
    assert await _sent_to(sandbox_control, stopped_phone) == []
    assert await _sent_to(sandbox_control, silent_phone) == []

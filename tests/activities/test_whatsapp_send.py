"""The send activity against the provider sandbox over real HTTP: exactly once per step, the 24-hour window,
opt-outs, provider errors and pacing. Each test has its own tenant, sandbox account and recipient number."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.whatsapp import WhatsAppActivities
from core.config import EvolutionShard, Settings
from core.secret_box import SecretBox
from domain import whatsapp_messages as kinds
from domain.whatsapp_messages import SendWhatsAppInput
from models import Lead, Message, OutboxMessage, TimelineEvent, WebhookInbox
from repositories.conversations import ConversationRepository
from repositories.webhook_inbox import WebhookInboxRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from tests.fixtures.whatsapp import WhatsAppTenant, add_lead, create_sandbox_tenant, create_whatsapp_tenant


@pytest.fixture(scope="module")
async def send_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def make_activities(settings: Settings, sandbox_url: str, session_factory, redis, send_http):  # type: ignore[no-untyped-def]
    def factory(**overrides: object) -> WhatsAppActivities:
        config = settings.model_copy(update={"sandbox_base_url": sandbox_url, **overrides})
        return WhatsAppActivities(session_factory=session_factory, http=send_http, redis=redis, settings=config)

    return factory


@pytest.fixture
async def sandbox_tenant(
    session_factory: async_sessionmaker[AsyncSession], sandbox_control: httpx.AsyncClient
) -> WhatsAppTenant:
    return await create_sandbox_tenant(session_factory, sandbox_control)


async def _lead(session_factory, tenant: WhatsAppTenant, *, wrote_ago: timedelta | None) -> tuple[uuid.UUID, str]:  # type: ignore[no-untyped-def]
    lead_id = await add_lead(session_factory, tenant.id)
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        if wrote_ago is not None:
            conversations = ConversationRepository(session)
            conversation = await conversations.get_or_create(tenant_id=tenant.id, lead_id=lead_id, channel="whatsapp")
            await conversations.record_inbound(
                conversation_id=conversation.id, at=datetime.now(tz=UTC) - wrote_ago, preview="hi"
            )
        await session.commit()
        return lead_id, lead.phone


async def _sent_to(sandbox_control: httpx.AsyncClient, phone: str) -> list[dict]:  # type: ignore[type-arg]
    return (await sandbox_control.get("/_sandbox/messages", params={"to": phone})).json()["messages"]


async def _stored_once(session_factory, lead_id: uuid.UUID, provider_message_id: str) -> None:  # type: ignore[no-untyped-def]
    """One outbox row sent in one attempt and one outbound message, both the provider's `provider_message_id`."""
    async with session_factory() as session:
        row = (await session.execute(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id))).scalar_one()
        outbound = (
            (await session.execute(select(Message).where(Message.lead_id == lead_id, Message.direction == "outbound")))
            .scalars()
            .all()
        )
    assert (row.state, row.provider_message_id, row.attempts) == ("sent", provider_message_id, 1)
    assert [m.provider_message_id for m in outbound] == [provider_message_id]


def _input(tenant: WhatsAppTenant, lead_id: uuid.UUID, step: str = "step-1", **fields: object) -> SendWhatsAppInput:
    return SendWhatsAppInput(
        tenant_id=str(tenant.id),
        lead_id=str(lead_id),
        workflow_id=f"lead:{tenant.slug}:{lead_id}",
        step=step,
        **fields,  # type: ignore[arg-type]
    )


async def test_a_step_sends_once_however_often_it_runs(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=1))
    acts = make_activities()
    data = _input(sandbox_tenant, lead_id, text="Hi Maria, the apartment is available.")
    first = await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    again = await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    assert again.provider_message_id == first.provider_message_id and again.duplicate and not first.duplicate
    sent = await _sent_to(sandbox_control, phone)
    assert [m["text"] for m in sent] == ["Hi Maria, the apartment is available."]
    assert sent[0]["id"] == first.provider_message_id
    assert sent[0]["idempotency_key"] == data.idempotency_key
    async with session_factory() as session:
        message = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalar_one()
        assert (message.direction, message.provider_message_id) == ("outbound", first.provider_message_id)


async def test_outside_the_window_without_a_template_is_refused_on_the_timeline(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=25))
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            make_activities().send_whatsapp_message, _input(sandbox_tenant, lead_id, text="hi")
        )
    assert refused.value.type == kinds.WINDOW_CLOSED and refused.value.non_retryable
    assert await _sent_to(sandbox_control, phone) == []
    async with session_factory() as session:
        kinds_on_timeline = (
            (await session.execute(select(TimelineEvent.kind).where(TimelineEvent.lead_id == lead_id))).scalars().all()
        )
    assert "whatsapp_send_failed" in kinds_on_timeline


async def test_a_credential_sealed_under_an_unknown_key_refuses_the_send_on_the_timeline(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=sandbox_tenant.id)
        assert account is not None
        account.access_token = SecretBox(["a-key-this-deployment-never-had"]).seal(sandbox_tenant.access_token)
        await session.commit()
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            make_activities().send_whatsapp_message, _input(sandbox_tenant, lead_id, text="hi")
        )
    assert refused.value.type == kinds.NOT_CONFIGURED and refused.value.non_retryable
    assert "LEADFLOW_SECRET_KEY_FALLBACKS" in str(refused.value)
    assert await _sent_to(sandbox_control, phone) == []
    async with session_factory() as session:
        failures = (
            await session.execute(
                select(TimelineEvent.kind).where(
                    TimelineEvent.lead_id == lead_id, TimelineEvent.kind == "whatsapp_send_failed"
                )
            )
        ).all()
    assert len(failures) == 1


async def test_outside_the_window_the_fallback_template_goes_out(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=None)
    result = await ActivityEnvironment().run(
        make_activities().send_whatsapp_message,
        _input(sandbox_tenant, lead_id, text="hi", fallback_template="follow_up", template_parameters=["Maria"]),
    )
    assert (result.mode, result.template) == ("template", "follow_up")
    sent = await _sent_to(sandbox_control, phone)
    assert len(sent) == 1 and sent[0]["type"] == "template" and sent[0]["template"]["name"] == "follow_up"


async def _phone_of(session_factory, lead_id: uuid.UUID) -> str:  # type: ignore[no-untyped-def]
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead.phone


async def _answered_late(sandbox_control: httpx.AsyncClient, phone: str, seconds: float) -> None:
    """The sandbox takes the next send to `phone` at once but answers it `seconds` later."""
    fault = await sandbox_control.post(
        "/_sandbox/faults", json={"kind": "slow_accept", "to": phone, "delay_seconds": seconds}
    )
    assert fault.status_code == 201, fault.text


def _agent_sends(api: httpx.AsyncClient, tenant, lead_id: uuid.UUID, text: str, request_id: str):  # type: ignore[no-untyped-def]
    """An agent's message posted through the API in the background: its answer waits for the provider's."""
    body = {"text": text, "request_id": request_id}
    return asyncio.create_task(
        api.post(f"/api/v1/leads/{lead_id}/messages", json=body, headers=tenant.headers("agent"))
    )


async def _answered_with_the_one_send(sending, sandbox_control: httpx.AsyncClient, phone: str, accepted: dict) -> None:  # type: ignore[no-untyped-def]
    """The API answered 201 with the send the provider took, and the provider holds only that one."""
    response = await asyncio.wait_for(sending, timeout=90)
    assert response.status_code == 201, response.text
    assert response.json()["provider_message_id"] == accepted["id"]
    assert [m["id"] for m in await _sent_to(sandbox_control, phone)] == [accepted["id"]]


async def _set_stage(session_factory, lead_id: uuid.UUID, stage: str) -> None:  # type: ignore[no-untyped-def]
    """The lead's status and stage, both `stage`, as an agent's change would leave them."""
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        lead.status_key, lead.stage = stage, stage
        await session.commit()


async def _refused_as_opted_out(acts, tenant, sandbox_control, lead_id, phone) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(acts.send_whatsapp_message, _input(tenant, lead_id, text="hi"))
    assert refused.value.type == kinds.LEAD_OPTED_OUT
    assert await _sent_to(sandbox_control, phone) == []


async def test_an_opted_out_lead_is_never_sent_to(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await _set_stage(session_factory, lead_id, "opted_out")
    await _refused_as_opted_out(make_activities(), sandbox_tenant, sandbox_control, lead_id, phone)


async def test_a_lead_who_said_stop_is_refused_whatever_its_status(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    # The conversation's opt-out alone (whatever the lead's status says) ends every send.
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await _set_stage(session_factory, lead_id, "won")
    async with session_factory() as session:
        await ConversationRepository(session).mark_opted_out(
            tenant_id=sandbox_tenant.id, lead_id=lead_id, at=datetime.now(tz=UTC)
        )
        await session.commit()
    await _refused_as_opted_out(make_activities(), sandbox_tenant, sandbox_control, lead_id, phone)


async def test_a_sequence_send_to_a_lead_at_one_of_its_exit_stages_is_refused_without_a_failure(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    # The lead was won; the enrollment's workflow has not heard of it yet. Another sequence's send (no exit stages)
    # and an agent's message still go out.
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await _set_stage(session_factory, lead_id, "won")
    acts = make_activities()
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, text="hi", exit_on_stages=["won", "lost"])
        )
    assert (refused.value.type, refused.value.non_retryable) == (kinds.LEAD_AT_EXIT_STAGE, True)
    assert refused.value.details[0] == {"stage": "won"}
    with pytest.raises(ApplicationError) as again:  # a retried step: the same refusal, naming the stage again
        await ActivityEnvironment().run(
            acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, text="hi", exit_on_stages=["won", "lost"])
        )
    assert (again.value.type, again.value.details[0]) == (kinds.LEAD_AT_EXIT_STAGE, {"stage": "won"})
    assert await _sent_to(sandbox_control, phone) == []
    async with session_factory() as session:
        on_timeline = (await session.scalars(select(TimelineEvent.kind).where(TimelineEvent.lead_id == lead_id))).all()
    assert "whatsapp_send_failed" not in on_timeline

    await ActivityEnvironment().run(
        acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, "step-2", text="hi", exit_on_stages=["lost"])
    )
    assert len(await _sent_to(sandbox_control, phone)) == 1


async def test_429_then_200_delivers_exactly_one_message(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    fault = await sandbox_control.post("/_sandbox/faults", json={"kind": "http_429", "to": phone, "count": 1})
    assert fault.status_code == 201
    acts = make_activities()
    data = _input(sandbox_tenant, lead_id, text="hello")
    with pytest.raises(ApplicationError) as throttled:
        await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    assert throttled.value.type == kinds.THROTTLED and not throttled.value.non_retryable
    assert throttled.value.next_retry_delay == timedelta(seconds=1)  # the provider's Retry-After
    result = await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    sent = await _sent_to(sandbox_control, phone)
    assert [m["id"] for m in sent] == [result.provider_message_id]
    async with session_factory() as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == data.idempotency_key))
        ).scalar_one()
    assert (row.state, row.attempts) == ("sent", 2)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [("error_131050", kinds.RECIPIENT_OPTED_OUT), ("error_131026", kinds.UNDELIVERABLE)],
)
async def test_permanent_provider_errors_are_not_retried(
    fault, error_type, make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await sandbox_control.post("/_sandbox/faults", json={"kind": fault, "to": phone, "count": 1})
    acts = make_activities()
    data = _input(sandbox_tenant, lead_id, text="hello")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    assert refused.value.type == error_type and refused.value.non_retryable
    if error_type == kinds.RECIPIENT_OPTED_OUT:
        assert refused.value.details[0] == {"opt_out_status_key": "opted_out"}
    # A re-run repeats the refusal without asking the provider again.
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(acts.send_whatsapp_message, data)
    assert await _sent_to(sandbox_control, phone) == []
    async with session_factory() as session:
        failed = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert [(m.status, m.error_code) for m in failed] == [("failed", fault.removeprefix("error_"))]


async def test_window_closed_at_the_provider_falls_back_to_the_template(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    # Our record says the lead wrote recently, Meta disagrees (131047): the step's template goes out instead.
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await sandbox_control.post("/_sandbox/faults", json={"kind": "error_131047", "to": phone, "count": 1})
    result = await ActivityEnvironment().run(
        make_activities().send_whatsapp_message,
        _input(sandbox_tenant, lead_id, text="hello", fallback_template="reengage"),
    )
    assert result.template == "reengage"
    assert [m["type"] for m in await _sent_to(sandbox_control, phone)] == ["template"]


async def test_two_steps_to_one_recipient_are_paced(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    acts = make_activities(whatsapp_recipient_min_interval_seconds=30.0)
    await ActivityEnvironment().run(acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, "a", text="one"))
    with pytest.raises(ApplicationError) as paced:
        await ActivityEnvironment().run(acts.send_whatsapp_message, _input(sandbox_tenant, lead_id, "b", text="two"))
    assert paced.value.type == kinds.THROTTLED and not paced.value.non_retryable
    assert paced.value.next_retry_delay is not None and paced.value.next_retry_delay > timedelta(seconds=20)
    assert [m["text"] for m in await _sent_to(sandbox_control, phone)] == ["one"]


async def test_a_send_cut_off_mid_flight_is_held_back_then_goes_out_exactly_once(
    make_activities, sandbox_tenant, session_factory, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    # The provider hangs (a timeout fault, nothing recorded) and the worker dies meanwhile: the attempt stays
    # `sending`. Nothing confirms it, so a re-run waits (retryable) and sends only once the window has passed.
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(minutes=5))
    await sandbox_control.post("/_sandbox/faults", json={"kind": "timeout", "to": phone, "delay_seconds": 2})
    data = _input(sandbox_tenant, lead_id, text="hello once")
    dying = asyncio.create_task(ActivityEnvironment().run(make_activities().send_whatsapp_message, data))
    await asyncio.sleep(0.5)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    with pytest.raises(ApplicationError) as held:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert held.value.type == kinds.SEND_IN_FLIGHT and not held.value.non_retryable
    assert held.value.next_retry_delay is not None
    assert await _sent_to(sandbox_control, phone) == []
    # Recovery after the window: a new worker process (new clients) runs the same step.
    after_window = make_activities(whatsapp_send_reconcile_window_seconds=0)
    result = await ActivityEnvironment().run(after_window.send_whatsapp_message, data)
    again = await ActivityEnvironment().run(after_window.send_whatsapp_message, data)
    assert again.provider_message_id == result.provider_message_id
    assert [m["id"] for m in await _sent_to(sandbox_control, phone)] == [result.provider_message_id]


async def test_an_evolution_tenant_sends_through_its_shard(
    settings, sandbox_url, session_factory, redis, send_http, sandbox_control
) -> None:  # type: ignore[no-untyped-def]
    instance = f"inst-{uuid.uuid4().hex[:8]}"
    registered = await sandbox_control.post(
        "/_sandbox/accounts/evolution", json={"instance": instance, "api_key": "instance-token"}
    )
    assert registered.status_code == 201, registered.text
    shard = EvolutionShard(name=f"send-{instance}", base_url=sandbox_url, instance=instance, api_key="instance-token")
    config = settings.model_copy(update={"whatsapp_evolution_shards": [shard], "evolution_send_delay_ms": 0})
    acts = WhatsAppActivities(session_factory=session_factory, http=send_http, redis=redis, settings=config)
    tenant = await create_whatsapp_tenant(session_factory, provider="evolution")
    # Baileys has no 24-hour window: a lead who never wrote still gets free text.
    lead_id, phone = await _lead(session_factory, tenant, wrote_ago=None)
    result = await ActivityEnvironment().run(acts.send_whatsapp_message, _input(tenant, lead_id, text="olá"))
    sent = await _sent_to(sandbox_control, phone)
    assert [(m["provider"], m["account"], m["id"]) for m in sent] == [
        ("evolution", instance, result.provider_message_id)
    ]


def _held_inbound_row(tenant: WhatsAppTenant, phone: str, key: str, *, received_at: datetime) -> dict[str, object]:
    """An inbox row of a message from `phone`, as the webhook route stores it, under a provider no dispatcher
    serves."""
    return {
        "provider": "held",
        "account_id": tenant.phone_number_id,
        "event_key": f"message:{key}",
        "order_key": f"held:{tenant.phone_number_id}:{phone}",
        "kind": "inbound_message",
        "tenant_id": tenant.id,
        "event": {"event": "inbound_message", "from_phone": phone, "provider_message_id": key},
        "raw": {},
        "received_at": received_at,
    }


@pytest.fixture
async def hold_inbound(session_factory) -> AsyncIterator[Callable[..., Awaitable[int]]]:  # type: ignore[no-untyped-def]
    """Store a message from a phone as the webhook route does, under a provider no dispatcher serves, so it stays
    unhandled; the rows go again after the test (an open inbox row would hold every later wait for an empty inbox)."""
    stored: list[int] = []

    async def hold(tenant: WhatsAppTenant, phone: str, *, ago: timedelta) -> int:
        key = f"wamid.{uuid.uuid4().hex}"
        row = _held_inbound_row(tenant, phone, key, received_at=datetime.now(tz=UTC) - ago)
        async with session_factory() as session:
            assert await WebhookInboxRepository(session).enqueue([row]) == 1
            inbox_id = (
                await session.execute(select(WebhookInbox.id).where(WebhookInbox.event_key == f"message:{key}"))
            ).scalar_one()
            await session.commit()
        stored.append(inbox_id)
        return inbox_id

    yield hold
    async with session_factory() as session:
        await session.execute(delete(WebhookInbox).where(WebhookInbox.id.in_(stored)))
        await session.commit()


async def test_a_sequence_send_waits_for_its_leads_stored_message_then_stops_for_the_reply(
    make_activities, sandbox_tenant, session_factory, sandbox_control, hold_inbound
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=1))
    planned = datetime.now(tz=UTC) - timedelta(minutes=1)
    inbox_id = await hold_inbound(sandbox_tenant, phone, ago=timedelta(0))
    data = _input(sandbox_tenant, lead_id, text="Following up on the apartment", stop_on_inbound_after=planned)

    with pytest.raises(ApplicationError) as waiting:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert waiting.value.type == kinds.THROTTLED and not waiting.value.non_retryable
    assert await _sent_to(sandbox_control, phone) == []

    # The dispatcher handles it: a reply, recorded on the conversation; the send then ends for good.
    async with session_factory() as session:
        conversations = ConversationRepository(session)
        conversation = await conversations.get_or_create(
            tenant_id=sandbox_tenant.id, lead_id=lead_id, channel="whatsapp"
        )
        await conversations.record_inbound(conversation_id=conversation.id, at=datetime.now(tz=UTC), preview="yes!")
        await WebhookInboxRepository(session).mark_done(inbox_ids=[inbox_id])
        await session.commit()
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert refused.value.type == kinds.LEAD_REPLIED and refused.value.non_retryable
    assert await _sent_to(sandbox_control, phone) == []


async def test_a_message_stored_before_the_send_was_planned_does_not_hold_it(
    make_activities, sandbox_tenant, session_factory, sandbox_control, hold_inbound
) -> None:  # type: ignore[no-untyped-def]
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=1))
    await hold_inbound(sandbox_tenant, phone, ago=timedelta(minutes=5))
    data = _input(sandbox_tenant, lead_id, text="Following up", stop_on_inbound_after=datetime.now(tz=UTC))

    sent = await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)

    assert [m["id"] for m in await _sent_to(sandbox_control, phone)] == [sent.provider_message_id]


async def test_a_reply_handled_while_the_send_decides_stops_it(
    make_activities, sandbox_tenant, session_factory, sandbox_control, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The lead's reply is stored, handled and its inbox row marked done right after the send's first look at it
    (whichever look comes first): the second look must see it, and nothing goes out."""
    lead_id, phone = await _lead(session_factory, sandbox_tenant, wrote_ago=timedelta(hours=1))
    planned = datetime.now(tz=UTC) - timedelta(minutes=1)
    replied = False

    async def reply_arrives_and_is_handled() -> None:
        nonlocal replied
        if replied:
            return
        replied = True
        key = f"wamid.{uuid.uuid4().hex}"
        row = _held_inbound_row(sandbox_tenant, phone, key, received_at=datetime.now(tz=UTC))
        async with session_factory() as session:  # the webhook: stored
            await WebhookInboxRepository(session).enqueue([row])
            await session.commit()
        async with session_factory() as session:  # the dispatcher: recorded on the conversation, then marked done
            conversations = ConversationRepository(session)
            conversation = await conversations.get_or_create(
                tenant_id=sandbox_tenant.id, lead_id=lead_id, channel="whatsapp"
            )
            await conversations.record_inbound(conversation_id=conversation.id, at=datetime.now(tz=UTC), preview="no")
            await session.commit()
            inbox_id = (
                await session.execute(select(WebhookInbox.id).where(WebhookInbox.event_key == f"message:{key}"))
            ).scalar_one()
            await session.execute(update(WebhookInbox).where(WebhookInbox.id == inbox_id).values(state="processing"))
            await WebhookInboxRepository(session).mark_done(inbox_ids=[inbox_id])
            await session.commit()

    def then_the_reply(original):  # type: ignore[no-untyped-def]
        async def look(self, **kwargs):  # type: ignore[no-untyped-def]
            seen = await original(self, **kwargs)
            await reply_arrives_and_is_handled()
            return seen

        return look

    monkeypatch.setattr(ConversationRepository, "inbound_state", then_the_reply(ConversationRepository.inbound_state))
    monkeypatch.setattr(
        WebhookInboxRepository, "inbound_waiting_from", then_the_reply(WebhookInboxRepository.inbound_waiting_from)
    )
    data = _input(sandbox_tenant, lead_id, text="Following up on the apartment", stop_on_inbound_after=planned)

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(make_activities().send_whatsapp_message, data)
    assert replied and refused.value.type == kinds.LEAD_REPLIED
    assert await _sent_to(sandbox_control, phone) == []

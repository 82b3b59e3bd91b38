"""The webhook inbox dispatcher: each event handled once even with several dispatchers or a dispatcher dying
mid-event, each person's events in the provider's order, poison events parked without holding back the rest.

Each test gives its events a provider name of its own and runs its own dispatchers for it, so the session's
dispatcher (which claims only the providers it has handlers for) never touches them.
"""

import asyncio
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from channels.whatsapp.inbound import handle_inbox_event
from channels.whatsapp.inbox import inbox_rows
from core.config import Settings
from dispatcher.runner import InboxDispatcher
from domain.whatsapp_messages import InboundWhatsAppMessage
from models import Message, WebhookInbox
from providers.whatsapp.meta_webhook import parse_meta_webhook
from repositories.webhook_inbox import WebhookInboxRepository
from tests.fixtures.crm import SystemAdminContext
from tests.fixtures.dispatcher import dispatcher_settings
from tests.fixtures.outage import PostgresProxy
from tests.fixtures.whatsapp import WhatsAppTenant, eventually, fresh_phone_digits, fresh_wamid
from workflows.ids import lead_workflow_id

Handler = Callable[[WebhookInbox], Awaitable[None]]
RunHandler = Callable[[Sequence[WebhookInbox]], Awaitable[None]]


def _provider(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(3)}"


async def _enqueue(session_factory: async_sessionmaker[AsyncSession], rows: list[dict]) -> None:
    async with session_factory() as session:
        await WebhookInboxRepository(session).enqueue(rows)
        await session.commit()


def _synthetic(provider: str, person: str, n: int) -> dict:
    return {
        "provider": provider,
        "account_id": "acct",
        "event_key": f"event:{person}:{n}",
        "order_key": f"{provider}:acct:{person}",
        "kind": "test",
        "tenant_id": None,
        "event": {"person": person, "n": n},
        "raw": {},
    }


async def _states(session_factory: async_sessionmaker[AsyncSession], provider: str) -> dict[str, int]:
    async with session_factory() as session:
        rows = (await session.execute(select(WebhookInbox.state).where(WebhookInbox.provider == provider))).all()
    counts: dict[str, int] = defaultdict(int)
    for (state,) in rows:
        counts[state] += 1
    return dict(counts)


class Running:
    """Dispatchers started for one test, stopped at its end."""

    def __init__(self, settings: Settings, session_factory: async_sessionmaker[AsyncSession], temporal: Client):
        self.settings = settings
        self.session_factory = session_factory
        self.temporal = temporal
        self.started: list[tuple[InboxDispatcher, asyncio.Event, asyncio.Task[None]]] = []

    def start(
        self,
        handlers: Mapping[str, Handler],
        *,
        run_handlers: Mapping[str, RunHandler] | None = None,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        **settings_changes: object,
    ) -> InboxDispatcher:
        dispatcher = InboxDispatcher(
            settings=dispatcher_settings(self.settings, **settings_changes),
            session_factory=session_factory or self.session_factory,
            temporal=self.temporal,
            handlers=handlers,
            run_handlers=run_handlers,
        )
        stop = asyncio.Event()
        self.started.append((dispatcher, stop, asyncio.create_task(dispatcher.run(stop))))
        return dispatcher

    async def kill(self, dispatcher: InboxDispatcher) -> None:
        """Like SIGKILL: the events in hand are dropped where they are; nothing records their outcome."""
        for entry in self.started:
            if entry[0] is dispatcher:
                for task in list(dispatcher._tasks):
                    task.cancel()
                entry[2].cancel()
                await asyncio.gather(entry[2], *dispatcher._tasks, return_exceptions=True)
                self.started.remove(entry)
                return

    async def stop_all(self) -> None:
        for _, stop, task in self.started:
            stop.set()
        await asyncio.gather(*(task for _, _, task in self.started), return_exceptions=True)


@pytest.fixture
async def dispatchers(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], temporal_client: Client
) -> AsyncIterator[Running]:
    running = Running(settings, session_factory, temporal_client)
    yield running
    await running.stop_all()


async def test_two_dispatchers_racing_over_1000_events_handle_each_once_in_each_persons_order(
    dispatchers: Running, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    provider = _provider("race")
    persons = [f"p{i}" for i in range(50)]
    # Each person's events arrive back to back, as a chatty lead's do.
    await _enqueue(session_factory, [_synthetic(provider, person, n) for person in persons for n in range(20)])
    handled: list[tuple[str, int, str]] = []
    in_hand: set[str] = set()
    overlaps: list[str] = []

    def handler(name: str) -> Handler:
        async def handle(row: WebhookInbox) -> None:
            person = row.event["person"]
            if person in in_hand:
                overlaps.append(person)
            in_hand.add(person)
            await asyncio.sleep(secrets.randbelow(4) / 1000)  # later events would overtake earlier ones
            in_hand.discard(person)
            handled.append((person, row.event["n"], name))

        return handle

    dispatchers.start({provider: handler("first")}, inbox_concurrency=16, inbox_batch_size=32)
    dispatchers.start({provider: handler("second")}, inbox_concurrency=16, inbox_batch_size=32)

    async def all_done() -> bool:
        return await _states(session_factory, provider) == {"done": 1000}

    await eventually(all_done, within_seconds=120)
    assert len(handled) == 1000
    assert len({(person, n) for person, n, _ in handled}) == 1000  # none twice
    assert {name for _, _, name in handled} == {"first", "second"}  # both took part
    assert overlaps == []  # never two events of one person at once
    for person in persons:
        assert [n for p, n, _ in handled if p == person] == list(range(20))  # the provider's order, per person


async def test_a_persons_waiting_events_are_handled_together_in_order_once_across_two_dispatchers(
    dispatchers: Running, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    provider = _provider("runs")
    persons = [f"p{i}" for i in range(30)]
    await _enqueue(session_factory, [_synthetic(provider, person, n) for person in persons for n in range(12)])
    runs: list[tuple[str, list[int]]] = []
    in_hand: set[str] = set()
    overlaps: list[str] = []

    async def one(row: WebhookInbox) -> None:
        await handle_run([row])

    async def handle_run(rows: Sequence[WebhookInbox]) -> None:
        people = {row.event["person"] for row in rows}
        assert len(people) == 1, people
        (person,) = people
        if person in in_hand:
            overlaps.append(person)
        in_hand.add(person)
        await asyncio.sleep(secrets.randbelow(4) / 1000)
        in_hand.discard(person)
        runs.append((person, [row.event["n"] for row in rows]))

    for _ in range(2):
        dispatchers.start({provider: one}, run_handlers={provider: handle_run}, inbox_run_max_events=5)

    async def all_done() -> bool:
        return await _states(session_factory, provider) == {"done": 360}

    await eventually(all_done, within_seconds=60)
    assert overlaps == []
    for person in persons:
        assert [n for p, run in runs if p == person for n in run] == list(range(12))  # once each, in order
    sizes = [len(run) for _, run in runs]
    assert max(sizes) == 5 and sum(sizes) == 360  # taken together, never more than allowed
    assert len(runs) < 360 / 2


async def test_a_run_that_fails_is_handled_one_by_one_so_only_the_poison_event_is_parked(
    dispatchers: Running, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    provider = _provider("poison-run")
    await _enqueue(session_factory, [_synthetic(provider, "bo", n) for n in range(6)])
    handled: list[int] = []
    run_calls: list[list[int]] = []

    async def handle(row: WebhookInbox) -> None:
        if row.event["n"] == 2:
            raise ValueError("cannot read this event")
        handled.append(row.event["n"])

    async def handle_run(rows: Sequence[WebhookInbox]) -> None:
        run_calls.append([row.event["n"] for row in rows])
        if any(row.event["n"] == 2 for row in rows):
            raise ValueError("cannot read this event")  # all or none: nothing of the run counts
        handled.extend(row.event["n"] for row in rows)

    dispatchers.start({provider: handle}, run_handlers={provider: handle_run}, inbox_max_attempts=2)

    async def all_settled() -> bool:
        return await _states(session_factory, provider) == {"done": 5, "parked": 1}

    await eventually(all_settled, within_seconds=30)
    assert handled == [0, 1, 3, 4, 5]  # in order, each once; the events behind the poison waited for it
    assert run_calls[0] == [0, 1, 2, 3, 4, 5]
    async with session_factory() as session:
        rows = (await session.execute(select(WebhookInbox).where(WebhookInbox.provider == provider))).scalars().all()
    attempts = {row.event["n"]: (row.state, row.attempts) for row in rows}
    assert attempts[2] == ("parked", 2)
    assert {n: a for n, a in attempts.items() if n != 2} == dict.fromkeys([0, 1, 3, 4, 5], ("done", 0))


async def test_a_run_caught_by_an_outage_waits_without_counting_an_attempt_then_is_handled_together(
    dispatchers: Running, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    provider = _provider("outage-run")
    await _enqueue(session_factory, [_synthetic(provider, "cy", n) for n in range(4)])
    run_calls: list[list[int]] = []

    async def handle(row: WebhookInbox) -> None:
        raise AssertionError("a run handler takes a run")

    async def handle_run(rows: Sequence[WebhookInbox]) -> None:
        run_calls.append([row.event["n"] for row in rows])
        if len(run_calls) == 1:
            raise OSError("connection refused")

    dispatchers.start({provider: handle}, run_handlers={provider: handle_run})

    async def waiting() -> bool:
        return bool(run_calls) and await _states(session_factory, provider) == {"pending": 4}

    await eventually(waiting, within_seconds=10)
    async with session_factory() as session:
        rows = (await session.execute(select(WebhookInbox).where(WebhookInbox.provider == provider))).scalars().all()
    assert {(row.attempts, row.last_error) for row in rows} == {(0, "OSError: connection refused")}

    async def all_done() -> bool:
        return await _states(session_factory, provider) == {"done": 4}

    await eventually(all_done, within_seconds=30)
    assert run_calls == [[0, 1, 2, 3], [0, 1, 2, 3]]


async def test_a_poison_event_is_parked_without_holding_back_the_persons_next_events_and_can_be_retried(
    dispatchers: Running,
    session_factory: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    system_admin: SystemAdminContext,
) -> None:
    provider = _provider("poison")
    await _enqueue(session_factory, [_synthetic(provider, "ann", n) for n in range(3)])
    handled: list[int] = []
    broken = {"yes": True}

    async def handle(row: WebhookInbox) -> None:
        if row.event["n"] == 0 and broken["yes"]:
            raise ValueError("cannot read this event")
        handled.append(row.event["n"])

    dispatchers.start({provider: handle}, inbox_max_attempts=2)

    async def next_ones_handled() -> bool:
        return handled == [1, 2]

    await eventually(next_ones_handled, within_seconds=30)
    async with session_factory() as session:
        poison = (
            await session.execute(
                select(WebhookInbox).where(WebhookInbox.provider == provider, WebhookInbox.event_key == "event:ann:0")
            )
        ).scalar_one()
    assert (poison.state, poison.attempts) == ("parked", 2)
    assert poison.last_error == "ValueError: cannot read this event"

    overview = await client.get("/api/v1/admin/inbox", params={"limit": 500}, headers=system_admin.headers)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["counts"]["parked"] >= 1
    listed = next(e for e in body["parked"] if e["id"] == poison.id)
    assert (listed["attempts"], listed["last_error"]) == (2, "ValueError: cannot read this event")

    broken["yes"] = False
    retried = await client.post(f"/api/v1/admin/inbox/{poison.id}/retry", headers=system_admin.headers)
    assert retried.status_code == 200, retried.text

    async def poison_handled() -> bool:
        return handled == [1, 2, 0]

    await eventually(poison_handled, within_seconds=30)
    again = await client.post(f"/api/v1/admin/inbox/{poison.id}/retry", headers=system_admin.headers)
    assert again.status_code == 404  # no longer parked


async def test_a_tenant_user_cannot_read_the_inbox(client: httpx.AsyncClient, tenant) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/admin/inbox", headers={"Authorization": f"Bearer {tenant.api_keys['owner']}"})
    assert response.status_code == 403


def _text_message_rows(wa_tenant: WhatsAppTenant, provider: str, message_id: str) -> list[dict]:
    """The inbox rows of a Meta webhook with one text message from a new person, under `provider`."""
    body = wa_tenant.meta_body("webhook_inbound_text.json", sender=fresh_phone_digits(), message_id=message_id)
    return inbox_rows(
        provider=provider,
        account_for={wa_tenant.phone_number_id: wa_tenant.phone_number_id},
        tenant_for={wa_tenant.phone_number_id: wa_tenant.id},
        raw=body,
        events=parse_meta_webhook(body),
    )


async def test_a_dispatcher_killed_between_storing_and_signalling_leaves_the_event_to_be_handled_once(
    dispatchers: Running,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal_client: Client,
    wa_tenant: WhatsAppTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from channels.whatsapp import inbound

    provider = _provider("crash")[:20]
    message_id = fresh_wamid()
    rows = _text_message_rows(wa_tenant, provider, message_id)

    async def whatsapp(row: WebhookInbox) -> None:
        await handle_inbox_event(row, session_factory=session_factory, temporal=temporal_client, settings=settings)

    stored = asyncio.Event()
    real_deliver = inbound.deliver_signals

    async def die_before_signalling(**_: object) -> None:
        stored.set()
        await asyncio.Event().wait()  # the process dies here

    monkeypatch.setattr(inbound, "deliver_signals", die_before_signalling)
    first = dispatchers.start({provider: whatsapp}, inbox_lease_seconds=1.0)
    await _enqueue(session_factory, rows)
    await asyncio.wait_for(stored.wait(), timeout=30)
    await dispatchers.kill(first)
    monkeypatch.setattr(inbound, "deliver_signals", real_deliver)
    assert await _states(session_factory, provider) == {"processing": 1}  # stored in the CRM, never signalled

    dispatchers.start({provider: whatsapp})

    async def handled() -> bool:
        return await _states(session_factory, provider) == {"done": 1}

    await eventually(handled, within_seconds=30)
    async with session_factory() as session:
        messages = (
            (await session.execute(select(Message).where(Message.provider_message_id == message_id))).scalars().all()
        )
    assert len(messages) == 1
    history = await temporal_client.get_workflow_handle(
        lead_workflow_id(wa_tenant.slug, str(messages[0].lead_id))
    ).fetch_history()
    signals = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == "record_inbound_message"
    ]
    assert len(signals) == 1
    # Signalled by the second dispatcher, it still says when the webhook was acknowledged (the inbox row's time).
    (signal,) = await temporal_client.data_converter.decode(
        signals[0].workflow_execution_signaled_event_attributes.input.payloads, [InboundWhatsAppMessage]
    )
    assert signal.accepted_at == await _received_at(session_factory, provider)


async def _received_at(session_factory: async_sessionmaker[AsyncSession], provider: str) -> datetime:
    async with session_factory() as session:
        query = select(WebhookInbox.received_at).where(WebhookInbox.provider == provider)
        return (await session.execute(query)).scalar_one()


async def test_the_leads_signal_says_when_the_webhook_was_acknowledged(
    dispatchers: Running,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    temporal_client: Client,
    wa_tenant: WhatsAppTenant,
) -> None:
    """An AI reply's debounce counts from the acknowledgement, so the signal must carry it (not the provider's time,
    whole seconds from another clock)."""
    provider = _provider("accepted")[:20]
    message_id = fresh_wamid()
    rows = _text_message_rows(wa_tenant, provider, message_id)

    async def whatsapp(row: WebhookInbox) -> None:
        await handle_inbox_event(row, session_factory=session_factory, temporal=temporal_client, settings=settings)

    dispatchers.start({provider: whatsapp})
    await _enqueue(session_factory, rows)

    async def handled() -> bool:
        return await _states(session_factory, provider) == {"done": 1}

    await eventually(handled, within_seconds=30)
    async with session_factory() as session:
        lead_id = (
            await session.execute(select(Message.lead_id).where(Message.provider_message_id == message_id))
        ).scalar_one()
    history = await temporal_client.get_workflow_handle(lead_workflow_id(wa_tenant.slug, str(lead_id))).fetch_history()
    (started,) = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    (signal,) = await temporal_client.data_converter.decode(
        started.workflow_execution_signaled_event_attributes.input.payloads, [InboundWhatsAppMessage]
    )
    accepted_at = await _received_at(session_factory, provider)
    assert signal.accepted_at == accepted_at
    assert signal.received_at != accepted_at  # the provider's own time is kept beside it


async def test_events_wait_while_the_dispatchers_database_is_away_and_drain_once_it_is_back(
    dispatchers: Running,
    session_factory: async_sessionmaker[AsyncSession],
    postgres_proxy: PostgresProxy,
    proxied_sessions: async_sessionmaker[AsyncSession],
) -> None:
    provider = _provider("pg-away")
    handled: list[tuple[str, int]] = []

    async def handle(row: WebhookInbox) -> None:
        handled.append((row.event["person"], row.event["n"]))

    dispatchers.start(
        {provider: handle}, session_factory=proxied_sessions, database_url=postgres_proxy.url, inbox_poll_seconds=0.2
    )
    await postgres_proxy.cut()
    # Stored (the API's own connection works) while the dispatcher's database is unreachable.
    await _enqueue(session_factory, [_synthetic(provider, f"p{i}", n) for i in range(5) for n in range(4)])
    await asyncio.sleep(2)  # ten polls: each fails to claim, nothing is lost or half-taken
    assert handled == []
    assert await _states(session_factory, provider) == {"pending": 20}

    await postgres_proxy.restore()

    async def drained() -> bool:
        return await _states(session_factory, provider) == {"done": 20}

    await eventually(drained, within_seconds=60)
    assert sorted(handled) == sorted((f"p{i}", n) for i in range(5) for n in range(4))  # each once
    for i in range(5):
        assert [n for p, n in handled if p == f"p{i}"] == [0, 1, 2, 3]


@pytest.mark.parametrize("event_id", ["abc", "0", str(2**63)])
async def test_retrying_an_impossible_inbox_id_is_a_422_naming_it(
    client: httpx.AsyncClient, system_admin: SystemAdminContext, event_id: str
) -> None:
    response = await client.post(f"/api/v1/admin/inbox/{event_id}/retry", headers=system_admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "event_id"


async def test_while_webhooks_pour_in_a_dispatcher_takes_few_events_then_drains_at_full_concurrency(
    dispatchers: Running, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Acknowledging comes first: above the arrival threshold the dispatcher holds itself to a slow rate (the rest
    wait, stored), and once the burst is over the backlog drains at full concurrency."""
    provider = _provider("burst")
    in_flight = 0
    started: list[tuple[float, int]] = []  # (when, events in hand then, counting this one)
    loop = asyncio.get_running_loop()

    async def handle(row: WebhookInbox) -> None:
        nonlocal in_flight
        in_flight += 1
        started.append((loop.time(), in_flight))
        await asyncio.sleep(0.05)
        in_flight -= 1

    dispatcher = dispatchers.start(
        {provider: handle}, inbox_concurrency=16, inbox_yield_above_per_second=1, inbox_rate_under_burst=5
    )
    for n in range(10):  # one insert each, as webhooks arrive: the rate passes 1/s
        await _enqueue(session_factory, [_synthetic(provider, f"p{n}", 0)])

    async def pouring_in() -> bool:
        return dispatcher.arrivals.per_second() > 1

    await eventually(pouring_in, within_seconds=5)
    await asyncio.sleep(0.3)
    burst_from = loop.time()
    for n in range(10, 60):
        await _enqueue(session_factory, [_synthetic(provider, f"p{n}", 0)])
        await asyncio.sleep(0.02)
    last_insert = loop.time()  # the rate counts the last second: above 1/s for most of it still

    async def all_done() -> bool:
        return await _states(session_factory, provider) == {"done": 60}

    await eventually(all_done, within_seconds=60)
    during = [when for when, _ in started if burst_from <= when <= last_insert + 0.5]
    after = [count for when, count in started if when > last_insert + 0.6]
    # 5 a second, one at a time: the starts are 0.2 s apart (slack for the event loop's scheduling).
    assert during and all(later - earlier > 0.15 for earlier, later in pairwise(during))
    assert len(during) <= 5 * (last_insert + 0.5 - burst_from) + 2
    assert after and max(after) > 2, "the backlog should drain at full concurrency after the burst"
    assert not dispatcher.yielding()


async def test_arrivals_above_the_threshold_for_long_are_load_not_a_burst(dispatchers: Running) -> None:
    """Past `inbox_yield_max_seconds` of pouring in, the dispatcher stops holding back (the backlog would only grow),
    and yields again to the next burst once the rate has fallen."""
    dispatcher = dispatchers.start(
        {_provider("idle"): _never_called}, inbox_yield_above_per_second=2, inbox_yield_max_seconds=0.5
    )
    for _ in range(5):
        dispatcher.arrivals.note()
    assert dispatcher.yielding()
    for _ in range(8):  # still pouring in, for longer than the burst may last
        await asyncio.sleep(0.1)
        for _ in range(3):
            dispatcher.arrivals.note()
    assert not dispatcher.yielding()
    await asyncio.sleep(1.1)  # the rate falls
    assert not dispatcher.yielding()
    for _ in range(5):
        dispatcher.arrivals.note()
    assert dispatcher.yielding()


async def _never_called(row: WebhookInbox) -> None:
    raise AssertionError(f"no event of this provider exists: {row.id}")

"""`GET /api/v1/events`: live events as Server-Sent Events over a real HTTP connection (the API on a real port).

An inbound WhatsApp message handled by the dispatcher reaches the tenant's open streams; a reconnection with
Last-Event-ID replays what it missed; events addressed to one person reach only them; another tenant hears nothing.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from core.config import Settings
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from core.redis import Keys
from tests.fixtures.crm import MakeTenant, TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.sequences import SEQUENCES, TASK_STEPS, create_sequence, insert_leads, us_phones
from tests.fixtures.whatsapp import WhatsAppTenant, sandbox_account

EVENTS = "/api/v1/events"


@dataclass
class Frame:
    id: str
    type: str
    data: dict[str, object]


class EventReader:
    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> Frame:
        """The next event frame (comments and the retry line skipped); fails instead of waiting for ever."""
        fields: dict[str, str] = {}
        while True:
            line = await asyncio.wait_for(anext(self.lines), timeout=20)
            if line == "" and "event" in fields:
                return Frame(fields.get("id", ""), fields["event"], json.loads(fields.get("data", "{}")))
            if line and not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value


@asynccontextmanager
async def stream(web_url: str, headers: dict[str, str], **params: str) -> AsyncIterator[EventReader]:
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        async with http.stream("GET", EVENTS, headers=headers, params=params) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield EventReader(response)


@pytest.fixture
def live(redis, settings: Settings) -> LiveEvents:  # type: ignore[no-untyped-def]
    return LiveEvents(redis, Keys(settings.redis_prefix))


async def test_an_inbound_message_reaches_open_streams_and_a_reconnection_replays_it(
    web_url: str, tenant: TenantContext, make_client, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    async with make_client() as client:
        phone_number_id = await sandbox_account(client, sandbox_control, tenant.headers())
        account = WhatsAppTenant(tenant.tenant_id, tenant.slug, phone_number_id, app_secret="s", verify_token="")
        sender = unique_phone().removeprefix("+")
        async with stream(web_url, tenant.headers("agent")) as events:
            # The stream's position is fixed before its answer starts: what the dispatcher does next is in it.
            body = account.meta_body("webhook_inbound_text.json", sender=sender, text="Is it free?")
            assert (await account.post_cloud(client, body)).status_code == 200
            first = await events.next()
            second = await events.next()
        leads = (await client.get("/api/v1/leads", params={"q": sender}, headers=tenant.headers())).json()["items"]
        lead_id = leads[0]["id"]
        assert {(first.type, first.data["lead_id"]), (second.type, second.data["lead_id"])} == {
            ("conversation.changed", lead_id),
            ("lead.changed", lead_id),
        }
        # Reconnecting from the first event gets the second again (EventSource sends Last-Event-ID by itself).
        async with stream(web_url, {**tenant.headers("agent"), "Last-Event-ID": first.id}) as again:
            replayed = await again.next()
        assert (replayed.id, replayed.type) == (second.id, second.type)
        async with stream(web_url, tenant.headers("agent"), last_event_id=first.id) as by_query:
            assert (await by_query.next()).id == second.id


async def test_a_persons_events_reach_only_them_and_no_other_tenant_hears_anything(
    web_url: str, tenant: TenantContext, make_tenant: MakeTenant, live: LiveEvents
) -> None:
    other = await make_tenant()
    lead_id = str(uuid.uuid4())
    async with stream(web_url, tenant.headers("agent")) as agent, stream(web_url, tenant.headers("owner")) as owner:
        await live.publish(
            LiveEvent(tenant_id=other.tenant_id, type=LiveEventType.LEAD_CHANGED, data={"lead_id": "other"}),
            LiveEvent(
                tenant_id=tenant.tenant_id,
                type=LiveEventType.NOTIFICATION_CREATED,
                data={"for": "owner"},
                user_id=tenant.owner.id,
            ),
            LiveEvent(tenant_id=tenant.tenant_id, type=LiveEventType.TASK_CHANGED, data={"lead_id": lead_id}),
        )
        # API keys belong to no person: the owner's key is not the owner, so neither stream gets the notification.
        assert [(await agent.next()).type] == ["task.changed"]
        assert [(await owner.next()).type] == ["task.changed"]


async def test_a_logged_in_person_gets_their_own_events(web_url: str, tenant: TenantContext, live: LiveEvents) -> None:
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        credentials = {"email": tenant.owner.email, "password": tenant.owner.password}
        login = await http.post("/api/v1/auth/login", json=credentials)
        assert login.status_code == 200
        async with http.stream("GET", EVENTS) as response:
            assert response.status_code == 200
            events = EventReader(response)
            await live.publish(
                LiveEvent(
                    tenant_id=tenant.tenant_id,
                    type=LiveEventType.NOTIFICATION_CREATED,
                    data={"n": 1},
                    user_id=tenant.agent.id,
                ),
                LiveEvent(
                    tenant_id=tenant.tenant_id,
                    type=LiveEventType.NOTIFICATION_CREATED,
                    data={"n": 2},
                    user_id=tenant.owner.id,
                ),
            )
            assert (await events.next()).data == {"n": 2}


async def test_the_stream_needs_credentials_and_a_real_event_id(web_url: str, tenant: TenantContext) -> None:
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as http:
        assert (await http.get(EVENTS)).status_code == 401
        bad = await http.get(EVENTS, headers={**tenant.headers("agent"), "Last-Event-ID": "yesterday"})
        assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["message"]


@pytest.mark.usefixtures("lead_worker")
async def test_a_sequence_creating_a_task_and_moving_on_is_told_to_open_streams(
    web_url: str, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sequence = await create_sequence(client, tenant, publish=True, steps=TASK_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1), owner_id=tenant.user_id("agent"))
    async with stream(web_url, tenant.headers("agent")) as events:
        enrolled = await client.post(
            f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]}, headers=tenant.headers()
        )
        assert enrolled.status_code == 202, enrolled.text
        seen: set[str] = set()
        while not {"task.changed", "enrollment.changed"} <= seen:
            frame = await events.next()
            assert frame.data["lead_id"] == str(lead)
            seen.add(frame.type)

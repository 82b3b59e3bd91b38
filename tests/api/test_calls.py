"""Calls end to end: the API places them through the Twilio sandbox, which plays them per persona and posts signed
callbacks back to the API; the worker's CallWorkflow follows each call to its disposition."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from api.app import create_app
from channels.voice.twiml import AMD_WAITS
from channels.voice.urls import CallUrls
from core.config import Settings
from domain.sequences.definition import BusinessHours
from domain.sequences.schedule import in_business_hours, zone
from models import Call, Lead, Task, TimelineEvent, WebhookInbox
from providers.twilio.signatures import SIGNATURE_HEADER, compute_signature
from tests.fixtures.calls import (
    TENANT_NUMBER,
    CallTenant,
    ended_call,
    make_call_tenant,
    sandbox_call_ended,
    sandbox_calls,
    set_persona,
)
from tests.fixtures.crm import MakeTenant, SystemAdminContext, set_flag
from tests.fixtures.history import activity_runs, queued_activities
from tests.fixtures.sandbox import load_fixture, unique_phone
from tests.fixtures.sequences import ENROLLMENTS, QUIET_STEPS, SEQUENCES, create_sequence
from tests.fixtures.whatsapp import add_lead, eventually
from workflow_clients.call import CallWorkflowClient
from workflows.call import CallWorkflow
from workflows.call_types import (
    MIRROR_CALL,
    PLACE_CALL,
    PREPARE_CALL,
    RELEASE_CALL_SLOT,
    REQUEST_CALL_SLOT,
    SUMMARIZE_CALL,
    TELL_LEAD_CALL_OUTCOME,
    VOICE_REPLY,
    CallView,
    CallWorkflowInput,
)
from workflows.ids import call_workflow_id

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")


@pytest.fixture
async def calls_tenant(client: httpx.AsyncClient, make_tenant: MakeTenant) -> CallTenant:
    return await make_call_tenant(
        client,
        make_tenant,
        voicemail_policy="drop_message",
        voicemail_message="Hi, this is Acme Realty. Sorry we missed you, we will call back.",
    )


@dataclass
class Dialing:
    """The calls tenant's new leads, called through the API and heard in the provider sandbox."""

    client: httpx.AsyncClient
    tenant: CallTenant
    session_factory: async_sessionmaker[AsyncSession]
    sandbox: httpx.AsyncClient

    async def lead(self) -> tuple[str, str]:
        return await _lead(self.session_factory, self.tenant)

    async def lead_who(self, behaviour: str, **persona: Any) -> tuple[str, str]:
        """A new lead whose phone the sandbox answers as `behaviour` (a person, voicemail, busy, ...)."""
        lead_id, phone = await self.lead()
        await set_persona(self.sandbox, phone, behaviour=behaviour, **persona)
        return lead_id, phone

    async def call(self, lead_id: str, **body: Any) -> dict[str, Any]:
        return await _call(self.client, self.tenant, lead_id, **body)

    async def ended(self, placed: dict[str, Any]) -> dict[str, Any]:
        return await ended_call(self.client, placed["id"], self.tenant.headers())


@pytest.fixture
def dial(
    client: httpx.AsyncClient,
    calls_tenant: CallTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> Dialing:
    return Dialing(client, calls_tenant, session_factory, sandbox_control)


async def _lead(session_factory: async_sessionmaker[AsyncSession], tenant: CallTenant) -> tuple[str, str]:
    phone = unique_phone()
    lead_id = await add_lead(session_factory, tenant.tenant.tenant_id, phone=phone)
    return str(lead_id), phone


async def _call(client: httpx.AsyncClient, tenant: CallTenant, lead_id: str, **body: Any) -> dict[str, Any]:
    answer = await client.post(f"/api/v1/leads/{lead_id}/calls", json=body, headers=tenant.headers("agent"))
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def test_a_person_talks_with_the_scripted_voice_agent(
    dial: Dialing,
    temporal_client: Client,
) -> None:
    lead_id, phone = await dial.lead_who("human", utterances=["Yes, it is", "Thursday at five"])

    placed = await dial.call(lead_id, ring_agent_first=False)
    call = await dial.ended(placed)

    assert (call["status"], call["disposition"], call["answered_by"]) == ("completed", "human_connected", "human")
    assert [(t["speaker"], t["text"]) for t in call["transcript"]] == [
        ("caller", "Yes, it is"),
        ("agent", "Great. When would you like to visit?"),
        ("caller", "Thursday at five"),
        ("agent", "Thank you, we will confirm by message. Goodbye."),
    ]
    heard = [(s["verb"], s["text"]) for s in (await sandbox_call_ended(dial.sandbox, phone))["steps"]]
    assert ("gather", "Hi, this is Acme Realty about your enquiry. Is now a good time?") in heard
    assert heard[-2:] == [("say", "Thank you, we will confirm by message. Goodbye."), ("hangup", None)]
    assert placed["workflow_id"] == f"call:{dial.tenant.tenant.slug}:{lead_id}:1"
    # Found by its search attributes, and its history replays on the current code.
    query = f"LeadId = '{lead_id}' AND CallDisposition = 'human_connected'"
    found = await eventually(lambda: _ids(temporal_client, query))
    assert found == [placed["workflow_id"]]
    handle = temporal_client.get_workflow_handle(placed["workflow_id"])

    async def told_the_lead() -> WorkflowHistory | None:
        # A local step's effect (the row's disposition) shows before its workflow task completes and records it.
        history = await handle.fetch_history()
        return history if TELL_LEAD_CALL_OUTCOME in activity_runs(list(history.events)) else None

    history = await eventually(told_the_lead)
    await Replayer(workflows=[CallWorkflow], data_converter=temporal_client.data_converter).replay_workflow(history)
    # Only the provider's call and the summary go through the task queue; the short steps on the database and Redis
    # and the voice replies run as local activities, inside the workflow task that asks for them.
    assert queued_activities(list(history.events)) == [PLACE_CALL, SUMMARIZE_CALL]
    ran = activity_runs(list(history.events))
    assert ran.count(VOICE_REPLY) == 2
    assert {PREPARE_CALL, REQUEST_CALL_SLOT, RELEASE_CALL_SLOT, MIRROR_CALL, TELL_LEAD_CALL_OUTCOME} <= set(ran)


async def _ids(client: Client, query: str) -> list[str]:
    return [w.id async for w in client.list_workflows(query)]


async def test_a_voicemail_gets_the_tenants_message(dial: Dialing) -> None:
    lead_id, phone = await dial.lead_who("voicemail", amd_seconds=0.2, silence_seconds=2)

    placed = await dial.call(lead_id, ring_agent_first=False)
    call = await dial.ended(placed)

    assert (call["disposition"], call["answered_by"]) == ("voicemail_left", "machine_end_beep")
    heard = [(s["verb"], s["text"]) for s in (await sandbox_call_ended(dial.sandbox, phone))["steps"]]
    assert ("say", "Hi, this is Acme Realty. Sorry we missed you, we will call back.") in heard
    assert not [s for s in heard if s[0] == "gather"]  # nothing meant for a person played to the machine


@pytest.mark.parametrize(("behaviour", "disposition"), [("busy", "busy"), ("no_answer", "no_answer")])
async def test_unanswered_calls_retry_inside_business_hours(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    temporal_client: Client,
    behaviour: str,
    disposition: str,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, retry_max_attempts=2, retry_spacing_minutes=90)
    lead_id, phone = await _lead(session_factory, tenant)
    await set_persona(sandbox_control, phone, behaviour=behaviour)
    before = datetime.now(tz=UTC)

    placed = await _call(client, tenant, lead_id, ring_agent_first=False)
    call = await ended_call(client, placed["id"], tenant.headers())

    assert call["disposition"] == disposition
    second_id = f"call:{tenant.tenant.slug}:{lead_id}:2"
    view: CallView = await eventually(lambda: _view(temporal_client, second_id))
    assert view.scheduled_for is not None and view.scheduled_for >= before + timedelta(minutes=90)
    async with session_factory() as session:
        lead = await session.get(Lead, lead_id)
    assert lead is not None
    assert in_business_hours(view.scheduled_for, zone(lead.timezone), BusinessHours())
    assert len(await sandbox_calls(sandbox_control, phone)) == 1  # the next attempt waits for its moment

    async def attempts() -> list[int] | None:
        # The next attempt's row is written by its own workflow, which may run just after its view answers.
        history = await client.get(f"/api/v1/leads/{lead_id}/calls", headers=tenant.headers("agent"))
        listed = [c["attempt"] for c in history.json()["items"]]
        return listed if len(listed) > 1 else None

    assert await eventually(attempts) == [2, 1]


async def _view(client: Client, workflow_id: str) -> CallView | None:
    try:
        return await client.get_workflow_handle(workflow_id).query(CallWorkflow.view)
    except Exception:
        return None


async def test_no_retry_once_the_attempts_are_used_up(dial: Dialing) -> None:
    lead_id, _ = await dial.lead_who("no_answer")
    placed = await dial.call(lead_id, ring_agent_first=False)
    call = await dial.ended(placed)
    assert call["disposition"] == "no_answer"
    history = await dial.client.get(f"/api/v1/leads/{lead_id}/calls", headers=dial.tenant.headers())
    assert [c["attempt"] for c in history.json()["items"]] == [1]


async def test_click_to_call_rings_the_agent_then_bridges_the_lead(dial: Dialing) -> None:
    lead_id, phone = await dial.lead()
    agent_phone = unique_phone()
    await set_persona(dial.sandbox, agent_phone, behaviour="human")
    await set_persona(dial.sandbox, phone, behaviour="human", dial_seconds=0.1)

    placed = await dial.call(lead_id, agent_phone=agent_phone)
    call = await dial.ended(placed)

    assert call["disposition"] == "human_connected" and call["agent_phone"] == agent_phone
    [rang] = await sandbox_calls(dial.sandbox, agent_phone)
    assert rang["from_"] == TENANT_NUMBER and ("dial", phone) in [(s["verb"], s["text"]) for s in rang["steps"]]
    assert rang["machine_detection"] is None


async def test_an_agent_sets_the_disposition_which_lands_on_the_timeline(dial: Dialing) -> None:
    lead_id, _ = await dial.lead_who("no_answer")
    placed = await dial.call(lead_id, ring_agent_first=False)
    await dial.ended(placed)
    callback_at = (datetime.now(tz=UTC) + timedelta(days=1)).replace(microsecond=0)

    answer = await dial.client.post(
        f"/api/v1/calls/{placed['id']}/disposition",
        json={
            "disposition": "callback_requested",
            "note": "asked for tomorrow",
            "callback_at": callback_at.isoformat(),
        },
        headers=dial.tenant.headers("agent"),
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["disposition"], body["disposition_note"]) == ("callback_requested", "asked for tomorrow")
    assert body["disposition_by"].startswith("api_key:")
    async with dial.session_factory() as session:
        kinds = (
            await session.execute(
                select(TimelineEvent.kind, TimelineEvent.data).where(TimelineEvent.lead_id == lead_id)
            )
        ).all()
    assert ("call_ended", "no_answer") in [(k, d.get("disposition")) for k, d in kinds]
    assert ("call_disposition", "callback_requested") in [(k, d.get("disposition")) for k, d in kinds]

    async def callback_task() -> Task | None:
        async with dial.session_factory() as session:
            return (await session.execute(select(Task).where(Task.lead_id == lead_id))).scalar_one_or_none()

    task = await eventually(callback_task)  # the requested callback is on the owner's list, due then
    assert task.title.startswith("Call back") and task.due_at == callback_at and task.status == "open"
    bad = await dial.client.post(
        f"/api/v1/calls/{placed['id']}/disposition", json={"disposition": "maybe"}, headers=dial.tenant.headers()
    )
    assert bad.status_code == 422


async def test_another_tenants_calls_and_leads_are_404(
    client: httpx.AsyncClient,
    calls_tenant: CallTenant,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    other = await make_call_tenant(client, make_tenant)
    lead_id, phone = await _lead(session_factory, calls_tenant)
    await set_persona(sandbox_control, phone, behaviour="busy")
    placed = await _call(client, calls_tenant, lead_id, ring_agent_first=False)

    for method, url in (
        ("GET", f"/api/v1/calls/{placed['id']}"),
        ("GET", f"/api/v1/leads/{lead_id}/calls"),
        ("POST", f"/api/v1/leads/{lead_id}/calls"),
        ("POST", f"/api/v1/calls/{placed['id']}/disposition"),
    ):
        body = {"disposition": "interested"} if url.endswith("disposition") else {"ring_agent_first": False}
        answer = await client.request(method, url, json=body if method == "POST" else None, headers=other.headers())
        assert answer.status_code == 404, (url, answer.text)
    live = await client.get("/api/v1/calls/live", headers=other.headers())
    assert all(c["call_id"] != placed["id"] for c in live.json()["items"])


async def _inbox_count(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookInbox)) or 0)


async def test_callbacks_are_verified_against_the_public_url(
    dial: Dialing,
    settings: Settings,
) -> None:
    lead_id, phone = await dial.lead_who("busy")
    placed = await dial.call(lead_id, ring_agent_first=False)
    await dial.ended(placed)
    [played] = await sandbox_calls(dial.sandbox, phone)
    status_url = played["request"]["StatusCallback"]
    path_and_query = status_url.removeprefix(settings.public_base_url)
    params = {
        "AccountSid": dial.tenant.account_sid,
        "CallSid": played["sid"],
        "CallStatus": "busy",
        "SequenceNumber": "9",
    }
    token = settings.twilio_sandbox_auth_token
    before = await _inbox_count(dial.session_factory)

    # This dial.client reaches the app as http://testserver (as behind a proxy): the signature of the public URL holds.
    good = await dial.client.post(
        path_and_query, data=params, headers={SIGNATURE_HEADER: compute_signature(token, status_url, params)}
    )
    as_seen = compute_signature(token, f"http://testserver{path_and_query}", params)
    seen_by_app = await dial.client.post(path_and_query, data=params, headers={SIGNATURE_HEADER: as_seen})
    forged = await dial.client.post(
        path_and_query,
        data={**params, "CallStatus": "completed"},
        headers={SIGNATURE_HEADER: compute_signature(token, status_url, params)},
    )
    unsigned = await dial.client.post(path_and_query, data=params)
    wrong_token = await dial.client.post(
        path_and_query.replace("token=", "token=x"),
        data=params,
        headers={SIGNATURE_HEADER: compute_signature(token, status_url, params)},
    )

    assert good.status_code == 200
    assert [r.status_code for r in (seen_by_app, forged, unsigned, wrong_token)] == [403, 403, 403, 403]
    assert await _inbox_count(dial.session_factory) == before + 1
    again = await dial.client.post(
        path_and_query, data=params, headers={SIGNATURE_HEADER: compute_signature(token, status_url, params)}
    )
    assert (
        again.status_code == 200 and await _inbox_count(dial.session_factory) == before + 1
    )  # a repeat stores nothing


async def test_duplicate_and_reordered_callbacks_change_nothing(dial: Dialing) -> None:
    for fault in ("duplicate_callbacks", "out_of_order_callbacks"):
        lead_id, phone = await dial.lead_who("human", utterances=["Yes"])
        await dial.sandbox.post("/_sandbox/twilio/faults", json={"kind": fault, "to": phone})
        placed = await dial.call(lead_id, ring_agent_first=False)
        call = await dial.ended(placed)
        assert (call["status"], call["disposition"]) == ("completed", "human_connected"), fault


async def test_an_unknown_number_calling_in_becomes_a_lead_and_a_missed_call_a_task(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, inbound_routing="agent")
    await set_persona(sandbox_control, tenant.agent_number, behaviour="no_answer")
    caller = unique_phone()
    await set_persona(sandbox_control, caller, behaviour="human")
    account_id = tenant.voice_url.rsplit("/", 1)[1]

    placed = await sandbox_control.post(
        "/_sandbox/twilio/inbound",
        json={
            "from": caller,
            "to": TENANT_NUMBER,
            "voice_url": tenant.voice_url,
            "status_callback": f"{tenant.voice_url}/status",
            "account_sid": tenant.account_sid,
        },
    )
    assert placed.status_code == 201, placed.text

    async def lead_of_caller() -> Lead | None:
        async with session_factory() as session:
            return (
                await session.execute(
                    select(Lead).where(Lead.tenant_id == tenant.tenant.tenant_id, Lead.phone == caller)
                )
            ).scalar_one_or_none()

    lead = await eventually(lead_of_caller)
    assert lead.source == "call"
    [call] = (await client.get(f"/api/v1/leads/{lead.id}/calls", headers=tenant.headers())).json()["items"]
    ended = await ended_call(client, call["id"], tenant.headers())
    assert (ended["direction"], ended["disposition"]) == ("inbound", "no_answer")

    async def task() -> Task | None:
        async with session_factory() as session:
            return (await session.execute(select(Task).where(Task.lead_id == lead.id))).scalar_one_or_none()

    missed = await eventually(task)
    assert missed.title.startswith("Call back") and missed.status == "open"
    assert account_id in tenant.voice_url


async def test_agents_without_an_account_or_a_phone_get_a_422(
    client: httpx.AsyncClient, make_tenant: MakeTenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    bare = await make_tenant()
    lead_id = await add_lead(session_factory, bare.tenant_id, phone=unique_phone())
    answer = await client.post(f"/api/v1/leads/{lead_id}/calls", json={}, headers=bare.headers("agent"))
    assert answer.status_code == 422 and "telephony" in answer.text
    tenant = await make_call_tenant(
        client, make_tenant, human_answer_mode="message", answer_message="Hello!", agent_number=None
    )
    lead_id = await add_lead(session_factory, tenant.tenant.tenant_id, phone=unique_phone())
    answer = await client.post(f"/api/v1/leads/{lead_id}/calls", json={}, headers=tenant.headers("agent"))
    assert answer.status_code == 422 and "agent_phone" in answer.text


async def test_me_says_whether_calls_can_be_placed(
    client: httpx.AsyncClient, make_tenant: MakeTenant, calls_tenant: CallTenant, system_admin: SystemAdminContext
) -> None:
    """The web app shows its Call buttons from `telephony` on /auth/me: a telephony account and the flag on; `calls`
    says which phone rings first and what a lead called directly hears, so the app can offer both."""
    bare = await make_tenant()
    me = (await client.get("/api/v1/auth/me", headers=bare.headers("agent"))).json()
    assert (me["telephony"], me["calls"]) == (False, None)
    answer = await client.get("/api/v1/auth/me", headers=calls_tenant.headers("agent"))
    assert answer.status_code == 200 and answer.json()["telephony"] is True
    assert answer.json()["calls"] == {"agent_number": calls_tenant.agent_number, "direct_answer": "ai"}
    no_desk = await make_call_tenant(
        client, make_tenant, human_answer_mode="message", answer_message="Hello!", agent_number=None
    )
    me = (await client.get("/api/v1/auth/me", headers=no_desk.headers("agent"))).json()
    assert me["calls"] == {"agent_number": None, "direct_answer": "message"}
    await set_flag(client, system_admin, calls_tenant.tenant.tenant_id, "calls", False)
    me = (await client.get("/api/v1/auth/me", headers=calls_tenant.headers("agent"))).json()
    assert (me["telephony"], me["calls"]) == (False, None)


async def test_live_calls_show_a_call_while_it_lasts(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, human_answer_mode="message", answer_message="Hello there!")
    lead_id, phone = await _lead(session_factory, tenant)
    await set_persona(sandbox_control, phone, behaviour="human", say_seconds=4)
    placed = await _call(client, tenant, lead_id, ring_agent_first=False)

    async def live_now() -> dict[str, Any] | None:
        items = (await client.get("/api/v1/calls/live", headers=tenant.headers("agent"))).json()["items"]
        return next((c for c in items if c["call_id"] == placed["id"] and c["status"] == "in-progress"), None)

    shown = await eventually(live_now)
    assert (shown["lead_id"], shown["direction"]) == (lead_id, "outbound")
    await ended_call(client, placed["id"], tenant.headers())

    async def gone() -> bool:
        items = (await client.get("/api/v1/calls/live", headers=tenant.headers())).json()["items"]
        return all(c["call_id"] != placed["id"] for c in items)

    assert await eventually(gone)


async def test_a_retry_of_a_tenant_whose_calls_went_off_is_never_dialled(
    client: httpx.AsyncClient,
    calls_tenant: CallTenant,
    system_admin: SystemAdminContext,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    temporal_client: Client,
) -> None:
    """A call scheduled before a system admin turned `calls` off (a retry, here started as its parent would) asks
    `call.prepare`, which reads the flag: the attempt ends failed on the lead's history and nothing is dialled."""
    lead_id, phone = await _lead(session_factory, calls_tenant)
    await set_persona(sandbox_control, phone, behaviour="human", utterances=["Yes"])
    await set_flag(client, system_admin, calls_tenant.tenant.tenant_id, "calls", False)
    tenant = calls_tenant.tenant
    retry = CallWorkflowInput(
        tenant_id=tenant.tenant_id,
        tenant_slug=tenant.slug,
        lead_id=uuid.UUID(lead_id),
        call_id=uuid.uuid4(),
        attempt=2,
        origin="retry",
    )
    await CallWorkflowClient(temporal_client).start(
        retry, workflow_id=call_workflow_id(tenant.slug, lead_id, retry.attempt)
    )

    call = await ended_call(client, str(retry.call_id), calls_tenant.headers())
    assert (call["status"], call["disposition"], call["attempt"]) == ("failed", "failed", 2)
    assert await sandbox_calls(sandbox_control, phone) == []
    history = await client.get(f"/api/v1/leads/{lead_id}/calls", headers=calls_tenant.headers("agent"))
    assert [c["attempt"] for c in history.json()["items"]] == [2], "no next attempt is scheduled"


async def test_speech_past_the_tenants_tts_limit_is_a_429(
    dial: Dialing,
    settings: Settings,
) -> None:
    """Every TwiML answer that makes Twilio speak counts against the tenant's `tts` preset; past it Twilio gets 429
    with Retry-After, counted in `leadflow_rate_limit_refusals_total{limit="tts"}`."""
    lead_id, phone = await dial.lead()
    await set_persona(dial.sandbox, phone, behaviour="busy")  # the sandbox never asks for TwiML: no speech yet
    placed = await dial.call(lead_id, ring_agent_first=False)
    await dial.ended(placed)
    async with dial.session_factory() as session:
        call = await session.get(Call, uuid.UUID(placed["id"]))
    assert call is not None
    answer_url = CallUrls(base=settings.public_base_url, call_id=call.id, token=call.callback_token).answer(AMD_WAITS)
    params = {"AccountSid": dial.tenant.account_sid, "CallSid": call.provider_sid or "CA0"}
    signed = {SIGNATURE_HEADER: compute_signature(settings.twilio_sandbox_auth_token, answer_url, params)}
    path = answer_url.removeprefix(settings.public_base_url)
    app = create_app(settings.model_copy(update={"rate_limit_tts_per_window": 1, "rate_limit_tts_window_seconds": 30}))
    before = REGISTRY.get_sample_value("leadflow_rate_limit_refusals_total", {"limit": "tts"}) or 0.0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as twilio:
            spoken = await twilio.post(path, data=params, headers=signed)
            assert spoken.status_code == 200 and "<Say>" in spoken.text, spoken.text
            refused = await twilio.post(path, data=params, headers=signed)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert refused.json()["details"]["limit"] == "tts"
    after = REGISTRY.get_sample_value("leadflow_rate_limit_refusals_total", {"limit": "tts"}) or 0.0
    assert after == before + 1


async def _enrolled(client: httpx.AsyncClient, tenant: CallTenant, lead_id: str) -> str:
    """The lead enrolled in a quiet sequence (a 3-day wait first), once its workflow runs: the enrollment's id."""
    sequence = await create_sequence(client, tenant.tenant, publish=True, steps=QUIET_STEPS)
    answer = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [lead_id]}, headers=tenant.headers("agent")
    )
    assert answer.status_code in (200, 201, 202), answer.text
    (enrollment_id,) = answer.json()["enrollment_ids"]

    async def running() -> str | None:
        body = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers())).json()
        return body["id"] if body.get("source") == "workflow" and body.get("next_action_at") else None

    return str(await eventually(running, within_seconds=60))


async def _enrollment_ended(client: httpx.AsyncClient, tenant: CallTenant, enrollment_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        body = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers())).json()
        return body if body.get("status") in ("exited", "stopped", "completed") else None

    return dict(await eventually(ended, within_seconds=60))


async def _lead_stage(session_factory: async_sessionmaker[AsyncSession], lead_id: str, stage: str) -> Lead | None:
    async with session_factory() as session:
        lead = await session.get(Lead, uuid.UUID(lead_id))
    return lead if lead is not None and lead.stage == stage else None


async def test_a_connected_call_ends_the_enrollments_like_a_reply_and_the_lead_is_contacted(dial: Dialing) -> None:
    lead_id, phone = await dial.lead()
    enrollment_id = await _enrolled(dial.client, dial.tenant, lead_id)
    await set_persona(dial.sandbox, phone, behaviour="human", utterances=["Yes, it is"])

    placed = await dial.call(lead_id, ring_agent_first=False)
    call = await dial.ended(placed)

    assert call["disposition"] == "human_connected"
    enrollment = await _enrollment_ended(dial.client, dial.tenant, enrollment_id)
    assert (enrollment["status"], enrollment["exit_reason"]) == ("exited", "replied")
    lead = await eventually(lambda: _lead_stage(dial.session_factory, lead_id, "contacted"))
    assert lead.status_key == "contacted"
    async with dial.session_factory() as session:
        changes = (
            await session.execute(
                select(TimelineEvent.actor, TimelineEvent.data).where(
                    TimelineEvent.lead_id == uuid.UUID(lead_id), TimelineEvent.kind == "status_changed"
                )
            )
        ).all()
    assert [(actor, data.get("reason")) for actor, data in changes] == [("system", "call disposition human_connected")]


async def test_an_agents_do_not_call_opts_the_lead_out_and_ends_its_enrollments(dial: Dialing) -> None:
    lead_id, phone = await dial.lead()
    enrollment_id = await _enrolled(dial.client, dial.tenant, lead_id)
    await set_persona(dial.sandbox, phone, behaviour="no_answer")
    placed = await dial.call(lead_id, ring_agent_first=False)
    assert (await dial.ended(placed))["disposition"] == "no_answer"
    # Nobody answered: nothing changes for the lead or its enrollment.
    assert await _lead_stage(dial.session_factory, lead_id, "new") is not None
    running = (await dial.client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=dial.tenant.headers())).json()
    assert running["status"] == "active"

    answer = await dial.client.post(
        f"/api/v1/calls/{placed['id']}/disposition",
        json={"disposition": "do_not_call", "note": "called back, asked us to stop"},
        headers=dial.tenant.headers("agent"),
    )
    assert answer.status_code == 200, answer.text

    enrollment = await _enrollment_ended(dial.client, dial.tenant, enrollment_id)
    assert (enrollment["status"], enrollment["exit_reason"]) == ("exited", "opted_out")
    lead = await eventually(lambda: _lead_stage(dial.session_factory, lead_id, "opted_out"))
    assert lead.status_key == "opted_out"


async def test_a_recorded_call_stores_its_recording_from_the_signed_callback(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    temporal_client: Client,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, recording_enabled=True)
    lead_id, phone = await _lead(session_factory, tenant)
    await set_persona(sandbox_control, phone, behaviour="human", utterances=["Yes, it is"], talk_seconds=1.1)
    placed = await _call(client, tenant, lead_id, ring_agent_first=False)
    await ended_call(client, placed["id"], tenant.headers())

    async def recorded() -> dict[str, Any] | None:
        body = (await client.get(f"/api/v1/calls/{placed['id']}", headers=tenant.headers("agent"))).json()
        return body if body["recording_url"] else None

    call = await eventually(recorded)
    [played] = await sandbox_calls(sandbox_control, phone)
    [posted] = [
        c
        for c in (await sandbox_control.get("/_sandbox/twilio/callbacks", params={"call_sid": played["sid"]})).json()[
            "callbacks"
        ]
        if c["event"] == "recording"
    ]
    assert (posted["signature"], posted["status_code"]) == ("valid", 200)
    assert set(load_fixture("twilio/recording_status_callback.json")) <= set(posted["params"])
    assert call["recording_url"] == posted["params"]["RecordingUrl"]
    assert call["recording_duration_seconds"] == int(posted["params"]["RecordingDuration"]) >= 1
    heard = [(s["verb"], s["text"]) for s in played["steps"]]
    assert ("say", "This call may be recorded for quality and training purposes.") in heard
    # The workflow, waiting out its disposition window, took the recording into its view too.
    view: CallView = await eventually(
        lambda: _recorded_view(temporal_client, placed["workflow_id"], posted["params"]["RecordingSid"])
    )
    assert view.recording_url == call["recording_url"]
    async with session_factory() as session:
        row = await session.get(Call, uuid.UUID(placed["id"]))
    assert row is not None and row.recording_sid == posted["params"]["RecordingSid"]


async def _recorded_view(client: Client, workflow_id: str, recording_sid: str) -> CallView | None:
    view = await _view(client, workflow_id)
    return view if view is not None and view.recording_sid == recording_sid else None


async def test_every_spoken_line_uses_the_tenants_voice_preset(
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    script = {
        "opening": "Hola, le llamamos por su consulta. ¿Es buen momento?",
        "prompts": ["¿Cuándo le gustaría visitarnos?"],
        "closing": "Gracias, adiós.",
        "voice": "Polly.Lupe-Neural",
        "language": "es-US",
    }
    tenant = await make_call_tenant(client, make_tenant, recording_enabled=True, voice_script=script)
    bad = await client.put(
        "/api/v1/telephony/account",
        json={"provider": "sandbox", "caller_ids": [TENANT_NUMBER], "voice_script": {**script, "voice": "Robot 9"}},
        headers=tenant.headers(),
    )
    assert bad.status_code == 422 and "voice_script.voice" in bad.text
    lead_id, phone = await _lead(session_factory, tenant)
    await set_persona(sandbox_control, phone, behaviour="human", utterances=["Sí", "El jueves"])

    placed = await _call(client, tenant, lead_id, ring_agent_first=False)
    await ended_call(client, placed["id"], tenant.headers())

    spoken = [s for s in (await sandbox_call_ended(sandbox_control, phone))["steps"] if s["verb"] in ("say", "gather")]
    assert [s["text"] for s in spoken] == [
        "This call may be recorded for quality and training purposes.",
        script["opening"],
        script["prompts"][0],
        script["closing"],
    ]
    assert {(s["voice"], s["language"]) for s in spoken} == {("Polly.Lupe-Neural", "es-US")}


@pytest.mark.parametrize("workflow", ["running", "closed"])
async def test_a_corrected_disposition_replaces_the_callback_it_asked_for(
    dial: Dialing, temporal_client: Client, workflow: str
) -> None:
    """An agent who picked the wrong time, or no callback at all, corrects the disposition: the owner's list keeps
    only the callback the latest disposition asks for; through the call's workflow while it waits for dispositions,
    on the row once it has closed."""
    lead_id, _ = await dial.lead_who("no_answer")
    placed = await dial.call(lead_id, ring_agent_first=False)
    ended = await dial.ended(placed)
    if workflow == "closed":
        await temporal_client.get_workflow_handle(ended["workflow_id"]).terminate("the disposition window passed")
    path = f"/api/v1/calls/{placed['id']}/disposition"
    first, second = ((datetime.now(tz=UTC) + timedelta(days=days)).replace(microsecond=0) for days in (1, 2))

    async def callbacks() -> list[tuple[datetime, str]]:
        async with dial.session_factory() as session:
            rows = (await session.execute(select(Task.due_at, Task.status).where(Task.lead_id == lead_id))).all()
        return sorted((due, status) for due, status in rows)

    for at in (first, second):
        body = {"disposition": "callback_requested", "callback_at": at.isoformat()}
        answer = await dial.client.post(path, json=body, headers=dial.tenant.headers("agent"))
        assert answer.status_code == 200, answer.text

    async def moved() -> bool:
        return await callbacks() == [(first, "cancelled"), (second, "open")]

    await eventually(moved)
    answer = await dial.client.post(path, json={"disposition": "interested"}, headers=dial.tenant.headers("agent"))
    assert answer.status_code == 200, answer.text

    async def none_left() -> bool:
        return await callbacks() == [(first, "cancelled"), (second, "cancelled")]

    await eventually(none_left)
    # Asked again for a time cancelled before: that task is open again (no second task for the same time).
    again = {"disposition": "callback_requested", "callback_at": first.isoformat()}
    assert (await dial.client.post(path, json=again, headers=dial.tenant.headers("agent"))).status_code == 200

    async def reopened() -> bool:
        return await callbacks() == [(first, "open"), (second, "cancelled")]

    await eventually(reopened)


BAD_DISPOSITIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"disposition": "callback_requested", "callback_at": "1970-01-01T00:00:00Z"}, "callback_at", "in the past"),
    ({"disposition": "callback_requested", "callback_at": "9999-12-31T23:59:59Z"}, "callback_at", "days ahead"),
    ({"disposition": "callback_requested", "callback_at": "2030-01-01T10:00:00"}, "callback_at", "time zone"),
    ({"disposition": "interested", "callback_at": "2030-01-01T10:00:00Z"}, "callback_at", "callback_requested"),
    ({"disposition": "interested", "note": "a\u0000b"}, "note", "NUL"),
    ({"disposition": "interested", "extra": 1}, "extra", "unknown field"),
]


async def test_a_disposition_that_cannot_be_right_is_a_422_naming_the_field_and_changes_nothing(
    dial: Dialing,
) -> None:
    lead_id, _ = await dial.lead_who("no_answer")
    placed = await dial.call(lead_id, ring_agent_first=False)
    before = await dial.ended(placed)

    for body, field, reason in BAD_DISPOSITIONS:
        answer = await dial.client.post(
            f"/api/v1/calls/{placed['id']}/disposition", json=body, headers=dial.tenant.headers("agent")
        )
        assert answer.status_code == 422, answer.text
        detail = answer.json()["details"][0]
        assert detail["field"] == field and reason in detail["reason"], answer.text

    after = await dial.client.get(f"/api/v1/calls/{placed['id']}", headers=dial.tenant.headers("agent"))
    assert after.json()["disposition"] == before["disposition"]
    async with dial.session_factory() as session:
        assert (await session.execute(select(Task.id).where(Task.lead_id == lead_id))).first() is None

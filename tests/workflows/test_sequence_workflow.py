"""SequenceWorkflow under the time-skipping server with the real worker, PostgreSQL and the WhatsApp sandbox:
a 14-day sequence runs in seconds and fires exactly when the preview says, in four zones over a weekend; replies,
a won lead and an opt-out end it with no further sends; pause/resume/stop answer definitely."""

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from channels.lead_signals import LeadSignal, signal_lead
from core.errors import Conflict
from domain.sequences.preview import preview
from domain.stages import Stage
from domain.whatsapp_messages import InboundWhatsAppMessage, WhatsAppProviderUndeliverable
from models import Lead
from tests.fixtures.whatsapp import eventually
from tests.fixtures.workflow_calls import enrollment_workflows
from tests.workflows.sequence_support import SequenceWorld, all_week, definition_of, inbound, two_sends
from workflows import search_attributes
from workflows.lead import LeadWorkflow
from workflows.lead_types import StatusChangeRequest
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentStatus

FOURTEEN_DAYS = {
    "steps": [
        {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro", "parameters": ["{{first_name}}"]}},
        {"id": "pause1", "type": "wait", "duration": {"days": 1}},
        {
            "id": "nudge",
            "type": "send_whatsapp",
            "text": "Hi {{first_name}}, still looking in {{custom.city}}?",
            "fallback_template": {"name": "nudge", "parameters": ["{{first_name}}"]},
        },
        {"id": "pause2", "type": "wait", "duration": {"days": 2, "hours": 3}, "align_to_business_hours": True},
        {"id": "offer", "type": "send_whatsapp", "template": {"name": "offer"}},
        {"id": "listen", "type": "wait_for_reply", "timeout": {"days": 3}},
        {"id": "last_try", "type": "send_whatsapp", "template": {"name": "last_try"}},
        {"id": "pause3", "type": "wait", "duration": {"days": 7}},
        {"id": "goodbye", "type": "send_whatsapp", "template": {"name": "goodbye"}},
    ],
}
SENDS = ["intro", "nudge", "offer", "last_try", "goodbye"]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_14_day_sequence_runs_end_to_end_and_fires_when_the_preview_says_in_four_zones(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(FOURTEEN_DAYS)
    zones = ["America/New_York", "Europe/London", "Asia/Jerusalem", "Asia/Kolkata"]
    leads = {zone: await world.lead(zone, name=f"Dana {zone.split('/')[1]}") for zone in zones}
    handles = {zone: await world.enroll(env.client, lead, sequence, version) for zone, lead in leads.items()}

    results = {zone: await handle.result() for zone, handle in handles.items()}

    for zone, view in results.items():
        lead = leads[zone]
        assert view.status == EnrollmentStatus.COMPLETED, (zone, view)
        # What the lead received, in order, through the provider sandbox.
        sent = await world.sent_to(lead)
        assert [m["template"]["name"] for m in sent] == SENDS, zone
        assert sent[0]["template"]["parameters"] == [lead.name.split()[0]]
        # The preview for the same input (start, zone) gives the same fire times.
        expected = preview(
            definition_of(version),
            start_at=view.started_at,
            lead_timezone=zone,
            lead_fields={"first_name": lead.name.split()[0]},
            status_stages=world.status_stages,
        )
        planned = {row.id: _utc(row.fire_at_utc) for row in expected}
        fired = {record.step_id: record for record in view.history if record.result in ("sent", "waiting", "no_reply")}
        for step_id in SENDS:
            record = fired[step_id]
            assert record.planned_at == planned[step_id], (zone, step_id)
            # The real workflow clock when it acted: the timer fired at the planned instant (timer granularity).
            assert abs(record.fired_at - planned[step_id]) < timedelta(seconds=5), (zone, step_id, record)
            local = record.fired_at.astimezone(ZoneInfo(zone))
            assert local.weekday() < 5 and 9 <= local.hour < 18, (zone, step_id, local)
        span = fired["goodbye"].fired_at - view.started_at
        assert span >= timedelta(days=14), span
        row = await world.enrollment_row(view.enrollment_id)
        assert (row.status, row.current_step_id, row.next_action_at) == ("completed", "goodbye", None)
        sends = [s for s in await world.step_rows(view.enrollment_id) if s.result == "sent"]
        assert [s.step_id for s in sends] == SENDS


async def test_a_reply_during_a_wait_ends_the_enrollment_with_no_further_send(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(two_sends({"days": 3}))
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)

    lead_handle = await world.lead_workflow_knowing(env.client, lead, handle)
    await lead_handle.signal(
        LeadWorkflow.record_inbound_message,
        inbound("yes please"),
    )
    view = await handle.result()

    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "replied")
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["intro"]
    row = await world.enrollment_row(view.enrollment_id)
    assert (row.status, row.exit_reason, row.replies) == ("exited", "replied", 1)
    # The lead's workflow forgot the ended enrollment.
    assert await eventually(lambda: _forgot(lead_handle, handle.id))


async def test_the_lead_reaching_won_ends_the_enrollment(env: WorkflowEnvironment, world: SequenceWorld) -> None:
    sequence, version = await world.sequence(two_sends({"days": 2}))
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)
    lead_handle = await world.lead_workflow_knowing(env.client, lead, handle)

    # A stage outside exit_on_stages changes nothing; won ends it.
    for key, stage in (("qualified", Stage.QUALIFIED), ("won", Stage.WON)):
        await lead_handle.execute_update(
            LeadWorkflow.change_status, StatusChangeRequest(status_key=key, stage=stage, actor="user:test")
        )
        if stage == Stage.QUALIFIED:
            assert (await handle.query(SequenceWorkflow.view)).status == EnrollmentStatus.ACTIVE
    view = await handle.result()

    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "stage:won")
    assert len(await world.sent_to(lead)) == 1


async def test_pause_holds_the_next_send_until_resume_and_a_second_pause_is_refused(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(two_sends({"days": 1}))
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)
    enrollment_id = (await handle.query(SequenceWorkflow.view)).enrollment_id
    control, as_agent = enrollment_workflows(env.client), _as_agent(world, enrollment_id)

    paused = await control.pause(**as_agent)
    assert paused.status == EnrollmentStatus.PAUSED
    assert (await world.enrollment_row(enrollment_id)).status == "paused"
    with pytest.raises(Conflict, match="paused"):
        await control.pause(**as_agent)

    await env.sleep(timedelta(days=3))
    assert len(await world.sent_to(lead)) == 1  # the wait ended while paused: nothing went out

    resumed = await control.resume(**as_agent)
    assert resumed.status == EnrollmentStatus.ACTIVE
    with pytest.raises(Conflict):
        await control.resume(**as_agent)
    view = await handle.result()
    assert view.status == EnrollmentStatus.COMPLETED
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["intro", "follow_up"]


def _as_agent(world: SequenceWorld, enrollment_id: uuid.UUID) -> dict[str, Any]:
    """Who pauses, resumes or stops the enrollment, and which one it is."""
    return {"tenant_slug": world.tenant.slug, "enrollment_id": enrollment_id, "actor": "user:test"}


def _enrollment_id(handle) -> uuid.UUID:  # type: ignore[no-untyped-def]
    return uuid.UUID(handle.id.rsplit(":", 1)[1])


async def _pause_at_once(env: WorkflowEnvironment, world: SequenceWorld, handle) -> None:  # type: ignore[no-untyped-def]
    """Pause before the first step's fire time: the test server skips no time outside result waits and sleeps."""
    await enrollment_workflows(env.client).pause(**_as_agent(world, _enrollment_id(handle)))


async def _resume(env: WorkflowEnvironment, world: SequenceWorld, handle) -> datetime:  # type: ignore[no-untyped-def]
    await enrollment_workflows(env.client).resume(**_as_agent(world, _enrollment_id(handle)))
    return await env.get_current_time()


async def _enrolled_to_start_in_an_hour_and_paused(  # type: ignore[no-untyped-def]
    env: WorkflowEnvironment, world: SequenceWorld, sequence, version
) -> tuple[Lead, WorkflowHandle, datetime]:
    lead = await world.lead()
    start_at = await env.get_current_time() + timedelta(hours=1)
    handle = await world.enroll(env.client, lead, sequence, version, start_at=start_at)
    await _pause_at_once(env, world, handle)
    return lead, handle, start_at


async def test_a_pause_before_a_wait_begins_does_not_restart_the_wait_on_resume(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"id": "pause1", "type": "wait", "duration": {"days": 1}},
            {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
            {"id": "pause2", "type": "wait", "duration": {"days": 1}},
            {"id": "follow_up", "type": "send_whatsapp", "template": {"name": "follow_up"}},
        )
    )
    lead, handle, start_at = await _enrolled_to_start_in_an_hour_and_paused(env, world, sequence, version)
    await env.sleep(timedelta(days=5))  # the intro was due on day 1
    assert await world.sent_to(lead) == []

    resumed_at = await _resume(env, world, handle)
    view = await handle.result()
    records = {r.step_id: r for r in view.history}
    assert records["pause1"].planned_at == start_at  # the wait kept its place in the schedule
    # Due while paused: sent at resume (was: the whole 1-day wait again from the resume).
    assert records["intro"].fired_at - resumed_at < timedelta(minutes=2), (resumed_at, records["intro"])
    # The steps after it count from the intro's send: the follow-up does not catch up in the same minute.
    assert records["follow_up"].planned_at == records["intro"].planned_at + timedelta(days=1)
    assert records["follow_up"].fired_at - records["intro"].fired_at > timedelta(hours=23)
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["intro", "follow_up"]


async def test_a_pause_before_a_wait_begins_resumed_during_it_sends_when_the_schedule_says(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"id": "pause1", "type": "wait", "duration": {"days": 1}},
            {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
        )
    )
    _, handle, start_at = await _enrolled_to_start_in_an_hour_and_paused(env, world, sequence, version)
    await env.sleep(timedelta(hours=12))
    await _resume(env, world, handle)
    view = await handle.result()
    (sent,) = [r for r in view.history if r.result == "sent"]
    # The wait ends a day after its planned start, not a day after the resume.
    assert sent.planned_at == start_at + timedelta(days=1)
    assert sent.fired_at - sent.planned_at < timedelta(seconds=5), sent


async def test_a_step_due_during_a_pause_before_it_still_keeps_to_business_hours(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    tz = ZoneInfo("Europe/London")
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    sequence, version = await world.sequence(
        {
            "steps": [
                {"id": "pause1", "type": "wait", "duration": {"hours": 1}},
                {"id": "intro", "type": "send_whatsapp", "template": {"name": "intro"}},
            ],
            "settings": {"business_hours": {"days": every_day, "start": "09:00", "end": "17:00"}},
        }
    )
    now = await env.get_current_time()
    tomorrow = (now.astimezone(tz) + timedelta(days=1)).date()
    start_at = datetime.combine(tomorrow, time(10, 0), tz)  # the intro is due at 11:00
    in_hours, after_hours = await world.lead(), await world.lead()
    handles = {}
    for lead in (in_hours, after_hours):
        handles[lead.id] = await world.enroll(env.client, lead, sequence, version, start_at=start_at)
        await _pause_at_once(env, world, handles[lead.id])

    await env.sleep(datetime.combine(tomorrow, time(16, 30), tz) - now)
    resumed_in_hours = await _resume(env, world, handles[in_hours.id])
    await env.sleep(timedelta(hours=4))  # 20:30, after hours
    await _resume(env, world, handles[after_hours.id])

    sent_in_hours = next(r for r in (await handles[in_hours.id].result()).history if r.result == "sent")
    assert sent_in_hours.fired_at - resumed_in_hours < timedelta(minutes=2)  # at once (was: 17:30, then next day)
    sent_after_hours = next(r for r in (await handles[after_hours.id].result()).history if r.result == "sent")
    local = sent_after_hours.fired_at.astimezone(tz)
    assert (local.date(), local.hour, local.minute) == (tomorrow + timedelta(days=1), 9, 0)  # the next opening


async def test_stop_ends_the_enrollment_at_once_and_a_second_stop_is_refused(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(two_sends({"days": 5}))
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)
    enrollment_id = (await handle.query(SequenceWorkflow.view)).enrollment_id
    control, as_agent = enrollment_workflows(env.client), _as_agent(world, enrollment_id)

    stopped = await control.stop(**as_agent, reason="wrong list")
    assert (stopped.status, stopped.exit_reason) == (EnrollmentStatus.STOPPED, "stopped")
    view = await handle.result()
    assert view.status == EnrollmentStatus.STOPPED
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.ENROLLMENT_STATUS) == "stopped"
    assert attributes.get(search_attributes.SEQUENCE_ID) == str(sequence.id)
    with pytest.raises(Conflict):
        await control.stop(**as_agent)
    assert len(await world.sent_to(lead)) == 1
    row = await world.enrollment_row(enrollment_id)
    assert (row.status, row.exit_reason) == ("stopped", "stopped")
    final = await control.view(tenant_slug=world.tenant.slug, enrollment_id=enrollment_id)
    assert final.status == EnrollmentStatus.STOPPED and final.exit_detail and "wrong list" in final.exit_detail


async def _forgot(lead_handle, workflow_id: str) -> bool:  # type: ignore[no-untyped-def]
    return workflow_id not in (await lead_handle.query(LeadWorkflow.view)).active_enrollments


async def test_an_enrollment_starting_on_a_weekend_first_writes_on_monday_morning_in_each_zone(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        {"steps": [{"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}}]}
    )
    now = await env.get_current_time()  # the test server's clock (skipped time does not come back)
    saturday_noon = (now + timedelta(days=(5 - now.weekday()) % 7 or 7)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    zones = ["America/New_York", "Europe/London", "Asia/Jerusalem", "Asia/Kolkata"]
    leads = {zone: await world.lead(zone) for zone in zones}
    handles = {
        zone: await world.enroll(env.client, lead, sequence, version, start_at=saturday_noon)
        for zone, lead in leads.items()
    }
    for zone, handle in handles.items():
        lead = leads[zone]
        view = await handle.result()
        (sent,) = [r for r in view.history if r.result == "sent"]
        local = sent.fired_at.astimezone(ZoneInfo(zone))
        assert (local.strftime("%A"), local.hour) == ("Monday", 9), (zone, local)
        expected = preview(
            definition_of(version),
            start_at=saturday_noon,
            lead_timezone=zone,
            lead_fields={},
            status_stages=world.status_stages,
        )
        assert sent.planned_at == _utc(expected[0].fire_at_utc), zone
        assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["hello"]


async def test_a_send_planned_in_the_past_still_waits_for_the_leads_business_hours(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    # A backlog of starts, or a start_at hours ago: the plan's fire time has passed when the workflow runs it.
    tz = ZoneInfo("Europe/London")
    now = await env.get_current_time()
    opened = (now.astimezone(tz) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    end = "23:59" if opened.hour == 23 else f"{opened.hour + 1:02d}:00"
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    hours = {"days": every_day, "start": f"{opened.hour:02d}:00", "end": end}  # opened 3 h ago, closed now
    sequence, version = await world.sequence(
        {
            "steps": [{"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}}],
            "settings": {"business_hours": hours},
        }
    )
    lead = await world.lead("Europe/London")
    handle = await world.enroll(env.client, lead, sequence, version, start_at=opened + timedelta(minutes=5))
    view = await handle.result()
    (sent,) = [record for record in view.history if record.result == "sent"]
    local = sent.fired_at.astimezone(tz)
    assert sent.fired_at >= now
    assert f"{local.hour:02d}:00" == hours["start"] and local.minute < 5, local  # the next window's opening


async def _signal_as_a_webhook_would(  # type: ignore[no-untyped-def]
    env: WorkflowEnvironment, world: SequenceWorld, lead, signal: InboundWhatsAppMessage | WhatsAppProviderUndeliverable
) -> None:
    """Through the webhook path's signal-with-start, which begins a fresh lead run if the last one ended."""
    async with world.session_factory() as session:
        await signal_lead(
            session=session,
            temporal=env.client,
            settings=world.settings,
            signal=LeadSignal(webhook_event_id=uuid.uuid4(), tenant_id=world.tenant.id, lead_id=lead.id, signal=signal),
        )


async def test_a_reply_after_the_leads_workflow_ended_still_ends_the_enrollment(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    # Won is not an exit stage here: the lead's workflow completes on won while the enrollment carries on.
    sequence, version = await world.sequence(
        two_sends({"days": 3}, first="welcome_customer", exit_on_stages=["lost", "opted_out"])
    )
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)
    lead_handle = await world.lead_workflow_knowing(env.client, lead, handle)
    for key, stage in (("contacted", Stage.CONTACTED), ("won", Stage.WON)):
        await lead_handle.execute_update(
            LeadWorkflow.change_status, StatusChangeRequest(status_key=key, stage=stage, actor="user:test")
        )
    await lead_handle.result()  # the lead's run ended on won
    assert (await handle.query(SequenceWorkflow.view)).status == EnrollmentStatus.ACTIVE

    # The lead writes back: the webhook's signal-with-start begins a fresh lead run, which must know the enrollment.
    await _signal_as_a_webhook_would(env, world, lead, inbound("thanks, one more question"))
    view = await handle.result()
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "replied")
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["welcome_customer"]


async def test_a_later_undeliverable_status_ends_the_enrollment_with_no_further_send(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    # Meta accepts the send, then reports 131026 in a `failed` status webhook: the number cannot receive WhatsApp.
    sequence, version = await world.sequence(two_sends({"days": 2}))
    lead = await world.lead()
    handle = await world.enroll(env.client, lead, sequence, version)
    (sent,) = await eventually(lambda: world.sent_to(lead))
    await world.lead_workflow_knowing(env.client, lead, handle)
    await _signal_as_a_webhook_would(
        env,
        world,
        lead,
        WhatsAppProviderUndeliverable(
            provider_message_id=sent["id"], reason="Message undeliverable", occurred_at=datetime.now(UTC)
        ),
    )
    view = await handle.result()
    assert (view.status, view.exit_reason) == (EnrollmentStatus.EXITED, "undeliverable")
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["intro"]

"""SequenceWorkflow steps beyond sends and waits, under the time-skipping server with the real worker: the daily cap
defers (never drops) a send to the lead's next window, tasks wait for the agent's update (twice is refused) and are
escalated once when overdue, set_status moves the lead through its own workflow, an opt-out ends the enrollment,
and a running enrollment keeps the version it started with."""

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.services.sequence_stats import sequence_stats
from core.errors import Conflict
from domain.sequences.schedule import tenant_day_bounds
from domain.whatsapp_messages import InboundWhatsAppMessages
from models import Lead
from tests.fixtures.whatsapp import eventually
from tests.fixtures.workflow_calls import enrollment_workflows
from tests.workflows.sequence_support import ALL_WEEK, SequenceWorld, all_week, hello_capped_at, inbound
from workflows.lead import LeadWorkflow
from workflows.lead_types import LeadView
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentStatus, EnrollmentView


async def test_over_the_daily_cap_a_send_is_deferred_to_the_next_window_never_dropped(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(hello_capped_at(2))
    leads = [await world.lead() for _ in range(3)]
    handles = [await world.enroll(env.client, lead, sequence, version) for lead in leads]
    views = [await handle.result() for handle in handles]

    assert all(view.status == EnrollmentStatus.COMPLETED for view in views)
    for lead in leads:  # everyone got the message exactly once
        assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["hello"]
    deferred = [view for view in views if any(r.result == "deferred" for r in view.history)]
    assert len(deferred) == 1
    view = deferred[0]
    sent = next(r for r in view.history if r.result == "sent")
    first_day_end = tenant_day_bounds(view.started_at, "UTC")[1]
    assert sent.planned_at == first_day_end  # the tenant's next day, first minute of the lead's all-week window
    others = [next(r for r in v.history if r.result == "sent") for v in views if v is not view]
    assert all(r.fired_at < first_day_end for r in others)


async def test_a_send_planned_days_ago_counts_against_the_daily_cap_of_the_day_it_goes_out(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(hello_capped_at(1))
    now = await env.get_current_time()
    today, backlog = await world.lead(), await world.lead()
    # One enrollment starts now; the other was meant to start two days ago (a backlog): both would send today.
    handles = [
        await world.enroll(env.client, today, sequence, version),
        await world.enroll(env.client, backlog, sequence, version, start_at=now - timedelta(days=2)),
    ]
    views = [await handle.result() for handle in handles]

    sends = [next(r for r in view.history if r.result == "sent") for view in views]
    days = [tenant_day_bounds(sent.fired_at, "UTC")[0] for sent in sends]
    assert len(set(days)) == 2, sends  # a cap of 1 a day: the second send went out on the next tenant day
    assert sum(any(r.result == "deferred" for r in view.history) for view in views) == 1
    for lead in (today, backlog):
        assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["hello"]


async def test_the_stats_count_every_deferral_of_a_send_deferred_more_than_once(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(hello_capped_at(1))
    leads = [await world.lead() for _ in range(3)]
    handles = [await world.enroll(env.client, lead, sequence, version) for lead in leads]
    views = [await handle.result() for handle in handles]

    # A cap of 1: one sends on day 1, one on day 2, and the last is deferred on day 1 and again on day 2.
    deferrals = sorted(sum(r.result == "deferred" for r in view.history) for view in views)
    assert deferrals == [0, 1, 2]
    async with world.session_factory() as session:
        stats = await sequence_stats(session=session, tenant_id=world.tenant.id, sequence_id=sequence.id)
    (hello,) = stats.steps
    assert (hello.sends, hello.results["deferred"]) == (3, 3)


async def test_a_task_waits_for_the_agent_and_completing_it_twice_is_refused(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"id": "call", "type": "task", "title": "Call {{first_name}}", "due_in": {"days": 1}},
            {"id": "after", "type": "send_whatsapp", "template": {"name": "after_call"}},
        )
    )
    lead = await world.lead(name="Maria Lopez")
    handle = await world.enroll(env.client, lead, sequence, version)
    view = await handle.query(SequenceWorkflow.view)
    tasks = await eventually(lambda: world.tasks(view.enrollment_id))
    task = tasks[0]
    assert (task.title, task.status, task.step_id) == ("Call Maria", "open", "call")
    slug = world.tenant.slug
    await eventually(lambda: _open_task(handle))

    done = await enrollment_workflows(env.client).complete_task(
        tenant_slug=slug, enrollment_id=view.enrollment_id, task_id=task.id, actor="user:agent"
    )
    assert done.open_task_id is None
    with pytest.raises(Conflict, match="not open"):
        await enrollment_workflows(env.client).complete_task(
            tenant_slug=slug, enrollment_id=view.enrollment_id, task_id=task.id, actor="user:agent"
        )
    with pytest.raises(Conflict):
        await enrollment_workflows(env.client).skip_task(
            tenant_slug=slug, enrollment_id=view.enrollment_id, task_id=task.id, actor="user:agent"
        )
    final = await handle.result()

    assert final.status == EnrollmentStatus.COMPLETED
    assert [r.result for r in final.history] == ["task_created", "task_completed", "sent"]
    row = (await world.tasks(view.enrollment_id))[0]
    assert (row.status, row.closed_by) == ("completed", "user:agent")
    assert len(await world.sent_to(lead)) == 1


async def test_an_overdue_task_is_escalated_once_and_a_skip_moves_on(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"id": "quote", "type": "task", "title": "Send a quote", "due_in": {"hours": 4}},
            {"id": "after", "type": "send_whatsapp", "template": {"name": "after_quote"}},
        )
    )
    lead = await world.lead()
    handle = await world.enroll(env.client, lead, sequence, version)
    view = await handle.query(SequenceWorkflow.view)
    task = (await eventually(lambda: world.tasks(view.enrollment_id)))[0]

    await env.sleep(timedelta(days=2))
    kinds = await eventually(lambda: _overdue(world, lead))
    assert kinds.count("sequence_task_overdue") == 1
    assert (await handle.query(SequenceWorkflow.view)).status == EnrollmentStatus.ACTIVE  # still waiting for the agent

    await enrollment_workflows(env.client).skip_task(
        tenant_slug=world.tenant.slug, enrollment_id=view.enrollment_id, task_id=task.id, actor="user:a"
    )
    final = await handle.result()
    assert [r.result for r in final.history] == ["task_created", "task_overdue", "task_skipped", "sent"]
    assert (await world.tasks(view.enrollment_id))[0].status == "skipped"
    assert (await world.timeline_kinds(lead)).count("sequence_task_overdue") == 1


async def test_set_status_moves_the_lead_through_its_workflow_and_a_final_won_completes(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"type": "send_whatsapp", "template": {"name": "hello"}},
            {"type": "set_status", "status": "contacted"},
            {"type": "wait", "duration": {"hours": 1}},
            {"type": "set_status", "status": "won"},
        )
    )
    lead = await world.lead()
    handle = await world.enroll(env.client, lead, sequence, version)
    final = await handle.result()

    assert final.status == EnrollmentStatus.COMPLETED, final
    assert [r.result for r in final.history] == ["sent", "status_set", "waiting", "status_set"]
    lead_handle = env.client.get_workflow_handle_for(LeadWorkflow.run, f"lead:{world.tenant.slug}:{lead.id}")
    assert (await lead_handle.query(LeadWorkflow.view)).status_key == "won"


async def _after_first_hello(
    env: WorkflowEnvironment, world: SequenceWorld, *, exit_on_reply: bool
) -> tuple[Lead, WorkflowHandle[SequenceWorkflow, EnrollmentView], WorkflowHandle[LeadWorkflow, LeadView]]:
    """A lead enrolled in hello, a day's wait, again: after the hello, with its lead workflow knowing the enrollment."""
    sequence, version = await world.sequence(
        {
            "steps": [
                {"type": "send_whatsapp", "template": {"name": "hello"}},
                {"type": "wait", "duration": {"days": 1}},
                {"type": "send_whatsapp", "template": {"name": "again"}},
            ],
            "settings": {"business_hours": ALL_WEEK, "exit_on_reply": exit_on_reply},
        }
    )
    lead, handle = await world.enroll_after_first_send(env.client, sequence, version)
    return lead, handle, await world.lead_workflow_knowing(env.client, lead, handle)


async def test_an_opt_out_keyword_ends_the_enrollment(env: WorkflowEnvironment, world: SequenceWorld) -> None:
    lead, handle, lead_handle = await _after_first_hello(env, world, exit_on_reply=False)

    await lead_handle.signal(
        LeadWorkflow.record_inbound_message,
        inbound("STOP", opt_out=True, opt_out_status_key="opted_out"),
    )
    final = await handle.result()
    assert (final.status, final.exit_reason) == (EnrollmentStatus.EXITED, "opted_out")
    assert len(await world.sent_to(lead)) == 1


async def test_a_burst_of_replies_in_one_signal_counts_each_and_ends_the_enrollment_once(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    lead, handle, lead_handle = await _after_first_hello(env, world, exit_on_reply=True)
    burst = InboundWhatsAppMessages(messages=[inbound("hi"), inbound("are you there?"), inbound("call me")])
    await lead_handle.signal(LeadWorkflow.record_inbound_messages, burst)
    final = await handle.result()
    assert (final.status, final.exit_reason, final.replies) == (EnrollmentStatus.EXITED, "replied", 3)
    assert len(await world.sent_to(lead)) == 1
    row = await world.enrollment_row(final.enrollment_id)
    assert (row.status, row.replies) == ("exited", 3)
    view = await lead_handle.query(LeadWorkflow.view)
    assert view.inbound_messages == 3
    assert view.recent_inbound_ids[-3:] == tuple(m.provider_message_id for m in burst.messages)
    assert view.last_inbound_at == burst.messages[-1].received_at

    # Delivered again (at least once): every message is recognised, nothing counts twice.
    await lead_handle.signal(LeadWorkflow.record_inbound_messages, burst)
    await lead_handle.signal(LeadWorkflow.record_inbound_message, burst.messages[1])
    assert (await lead_handle.query(LeadWorkflow.view)).inbound_messages == 3


async def test_an_opt_out_keyword_inside_a_burst_opts_the_lead_out_and_ends_the_enrollment(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    lead, handle, lead_handle = await _after_first_hello(env, world, exit_on_reply=False)
    burst = InboundWhatsAppMessages(
        messages=[inbound("ok"), inbound("STOP", opt_out=True), inbound("sorry, wrong person")],
        opt_out_status_key="opted_out",
    )
    await lead_handle.signal(LeadWorkflow.record_inbound_messages, burst)
    final = await handle.result()
    # The reply before the keyword counted (this sequence does not exit on replies); the keyword ended it.
    assert (final.status, final.exit_reason, final.replies) == (EnrollmentStatus.EXITED, "opted_out", 1)
    assert len(await world.sent_to(lead)) == 1
    ended = await lead_handle.result()  # opted out is a terminal stage
    assert (ended.stage, ended.status_key, ended.inbound_messages) == ("opted_out", "opted_out", 3)


async def test_a_running_enrollment_keeps_its_version_after_a_new_one_is_published(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    v1 = {
        "steps": [
            {"type": "send_whatsapp", "template": {"name": "v1_hello"}},
            {"type": "wait", "duration": {"days": 1}},
            {"type": "send_whatsapp", "template": {"name": "v1_again"}},
        ],
        "settings": {"business_hours": ALL_WEEK},
    }
    sequence, version1 = await world.sequence(v1)
    lead = await world.lead()
    handle = await world.enroll(env.client, lead, sequence, version1)
    await eventually(lambda: world.sent_to(lead))
    v2 = {**v1, "steps": [{"type": "send_whatsapp", "template": {"name": "v2_only"}}]}
    version2 = await world.publish(sequence, v2, 2)
    newcomer = await world.lead()
    second = await world.enroll(env.client, newcomer, sequence, version2)

    assert (await handle.result()).sequence_version_id == version1.id
    await second.result()
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == ["v1_hello", "v1_again"]
    assert [m["template"]["name"] for m in await world.sent_to(newcomer)] == ["v2_only"]
    row = await world.enrollment_row((await handle.query(SequenceWorkflow.view)).enrollment_id)
    assert row.sequence_version_id == version1.id


async def _open_task(handle) -> bool:  # type: ignore[no-untyped-def]
    return (await handle.query(SequenceWorkflow.view)).open_task_id is not None


async def _overdue(world: SequenceWorld, lead) -> list[str]:  # type: ignore[no-untyped-def]
    kinds = await world.timeline_kinds(lead)
    return kinds if "sequence_task_overdue" in kinds else []


async def test_a_long_sequence_continues_as_new_carrying_its_position(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    steps: list[dict[str, object]] = []
    for n in range(20):
        steps += [
            {"id": f"send{n}", "type": "send_whatsapp", "template": {"name": f"m{n}"}},
            {"id": f"wait{n}", "type": "wait", "duration": {"hours": 6}},
        ]
    sequence, version = await world.sequence({"steps": steps, "settings": {"business_hours": ALL_WEEK}})
    lead = await world.lead()
    world.settings = world.settings.model_copy(update={"sequence_workflow_max_history_events": 100})
    handle = await world.enroll(env.client, lead, sequence, version)

    final = await handle.result()  # follows the chain of runs

    assert final.status == EnrollmentStatus.COMPLETED and final.steps_run == 40
    assert [m["template"]["name"] for m in await world.sent_to(lead)] == [f"m{n}" for n in range(20)]
    first_run = await env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id).fetch_history()
    assert first_run.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert len(first_run.events) <= 120


async def test_a_provider_opt_out_on_send_exits_and_opts_the_lead_out(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        all_week(
            {"type": "send_whatsapp", "template": {"name": "hello"}},
            {"type": "wait", "duration": {"days": 1}},
            {"type": "send_whatsapp", "template": {"name": "again"}},
        )
    )
    lead = await world.lead()
    fault = await world.sandbox.post("/_sandbox/faults", json={"kind": "error_131050", "to": lead.phone, "count": 1})
    assert fault.status_code == 201
    handle = await world.enroll(env.client, lead, sequence, version)

    final = await handle.result()

    assert (final.status, final.exit_reason) == (EnrollmentStatus.EXITED, "opted_out")
    assert [r.result for r in final.history] == ["failed"]
    assert await world.sent_to(lead) == []
    lead_handle = env.client.get_workflow_handle_for(LeadWorkflow.run, f"lead:{world.tenant.slug}:{lead.id}")
    assert (await lead_handle.query(LeadWorkflow.view)).stage == "opted_out"


async def test_an_enrollment_whose_lead_has_no_running_workflow_still_runs(
    env: WorkflowEnvironment, world: SequenceWorld
) -> None:
    sequence, version = await world.sequence(
        {"steps": [{"type": "send_whatsapp", "template": {"name": "hello"}}], "settings": {"business_hours": ALL_WEEK}}
    )
    lead = await world.lead()
    handle = await world.enroll(env.client, lead, sequence, version, with_lead_workflow=False)
    final = await handle.result()
    assert final.status == EnrollmentStatus.COMPLETED
    assert len(await world.sent_to(lead)) == 1

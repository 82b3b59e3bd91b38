"""Enrollments through the HTTP API against real SequenceWorkflows: bulk enrollment with every skip reason, by ids and
by lead filter, refusals (draft, archived), pause/resume/stop with 409 on a repeat, version pinning across an edit
and a new publish, roles, another tenant's sequence or enrollment being a 404 on every endpoint, and a NUL character
in a reason or filter being a 422 naming the field."""

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from core.errors import ServiceUnavailable
from tests.fixtures.jobs import finished_job
from tests.fixtures.sequences import (
    ENROLLMENTS,
    QUIET_STEPS,
    SEQUENCES,
    TASK_STEPS,
    TASKS,
    create_sequence,
    eventually,
    insert_leads,
    us_phones,
)
from tests.fixtures.whatsapp import sandbox_account
from tests.workflows.sequence_support import ALL_WEEK
from workflow_clients.sequence import SequenceWorkflowClient

pytestmark = pytest.mark.usefixtures("lead_worker")

START = "2026-12-07T10:00:00Z"  # a Monday: step times are easy to read


async def _enroll(client: httpx.AsyncClient, tenant, sequence_id: str, role: str = "agent", **body) -> httpx.Response:
    return await client.post(f"{SEQUENCES}/{sequence_id}/enrollments", json=body, headers=tenant.headers(role))


async def _running(client: httpx.AsyncClient, tenant, enrollment_id: str) -> dict:
    """The enrollment once its workflow answers and has planned its current step."""

    async def check() -> dict | None:
        response = await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers("agent"))
        body = response.json()
        planned = response.status_code == 200 and body["source"] == "workflow" and body["next_action_at"] is not None
        return body if planned else None

    return await eventually(check, within=60, what=f"enrollment {enrollment_id} to run")


async def test_bulk_enrollment_reports_every_skip_reason(
    client: httpx.AsyncClient, tenant, make_tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    fresh = await insert_leads(session_factory, tenant, us_phones(3))
    (opted_out,) = await insert_leads(session_factory, tenant, us_phones(1), status="opted_out", stage="opted_out")
    (won,) = await insert_leads(session_factory, tenant, us_phones(1), status="won", stage="won")
    other = await make_tenant()
    (foreign,) = await insert_leads(session_factory, other, us_phones(1))
    missing = uuid.uuid4()

    first = await _enroll(client, tenant, sequence["id"], lead_ids=[str(fresh[0])], start_at=START)
    assert first.status_code == 202, first.text
    assert first.json()["enrolled"] == 1 and first.json()["skipped"] == []
    assert (await finished_job(client, tenant, first))["started"] == 1
    (first_enrollment,) = first.json()["enrollment_ids"]

    everyone = [*fresh, opted_out, won, foreign, missing]
    response = await _enroll(client, tenant, sequence["id"], lead_ids=[str(i) for i in everyone], start_at=START)
    assert response.status_code == 202, response.text
    report = response.json()
    assert report["enrolled"] == 2 and report["version"] == 1 and report["job"]["total"] == 7
    reasons = {item["lead_id"]: item["reason"] for item in report["skipped"]}
    assert reasons == {
        str(fresh[0]): "already_enrolled",
        str(opted_out): "opted_out",
        str(won): "terminal_stage",
        str(foreign): "not_found",
        str(missing): "not_found",
    }
    already = next(item for item in report["skipped"] if item["reason"] == "already_enrolled")
    assert already["enrollment_id"] == first_enrollment

    job = await finished_job(client, tenant, response, role="agent")
    assert job["state"] == "done" and job["kind"] == "bulk_enrollment" and job["error"] is None
    assert (job["total"], job["started"], job["skipped"], job["failed"]) == (7, 2, 5, 0)
    assert job["started"] + job["skipped"] + job["failed"] == job["total"]
    assert job["skipped_by_reason"] == {"already_enrolled": 1, "opted_out": 1, "terminal_stage": 1, "not_found": 2}
    assert {(item["lead_id"], item["reason"]) for item in job["skipped_items"]} == set(reasons.items())
    assert job["started_at"] is not None and job["finished_at"] is not None
    for enrollment_id in report["enrollment_ids"]:
        assert (await _running(client, tenant, enrollment_id))["status"] == "active"

    enrollment = await _running(client, tenant, report["enrollment_ids"][0])
    assert enrollment["status"] == "active" and enrollment["sequence_version"] == 1
    assert enrollment["lead_id"] in {str(fresh[1]), str(fresh[2])}
    assert enrollment["current_step_id"] == "first_wait"
    # Step 1 (the 3-day wait) is ready at the requested start.
    assert datetime.fromisoformat(enrollment["next_action_at"]) == datetime.fromisoformat(START)

    timeline = (await client.get(f"/api/v1/leads/{enrollment['lead_id']}/timeline", headers=tenant.headers())).json()
    enrolled = [e for e in timeline if e["kind"] == "sequence_enrolled"]
    assert len(enrolled) == 1 and enrolled[0]["data"]["enrollment_id"] == enrollment["id"]
    assert enrolled[0]["data"]["sequence_name"] == sequence["name"] and enrolled[0]["data"]["version"] == 1

    again = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(i) for i in fresh])).json()
    assert again["enrolled"] == 0 and {s["reason"] for s in again["skipped"]} == {"already_enrolled"}


async def test_enrollment_by_lead_filter_enrolls_every_match(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    matching = await insert_leads(session_factory, tenant, us_phones(150), name="Filter Match")
    await insert_leads(session_factory, tenant, us_phones(5), name="Someone Else")
    await insert_leads(session_factory, tenant, us_phones(3), name="Filter Match", status="lost", stage="lost")

    response = await _enroll(client, tenant, sequence["id"], role="owner", filter={"q": "filter match"})
    report = response.json()
    assert report["enrolled"] == 150
    job = await finished_job(client, tenant, response)
    assert (job["total"], job["started"], job["skipped"], job["failed"]) == (153, 150, 3, 0)
    assert [s["reason"] for s in report["skipped"]] == ["terminal_stage"] * 3
    enrolled_leads = set()
    for enrollment_id in report["enrollment_ids"][:3]:
        enrolled_leads.add((await _running(client, tenant, enrollment_id))["lead_id"])
    assert enrolled_leads <= {str(i) for i in matching}

    stats = (await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=tenant.headers("agent"))).json()
    assert stats["enrolled"] == 150 and stats["active"] == 150 and stats["completed"] == 0


async def test_only_published_unarchived_sequences_take_enrollments(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    draft = await create_sequence(client, tenant, steps=QUIET_STEPS)
    refused = await _enroll(client, tenant, draft["id"], lead_ids=[str(lead)])
    assert refused.status_code == 409 and "publish" in refused.json()["message"]

    archived = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    await client.post(f"{SEQUENCES}/{archived['id']}/archive", headers=tenant.headers("owner"))
    refused = await _enroll(client, tenant, archived["id"], lead_ids=[str(lead)])
    assert refused.status_code == 409 and "archived" in refused.json()["message"]

    both = await _enroll(client, tenant, archived["id"], lead_ids=[str(lead)], filter={})
    assert both.status_code == 422
    neither = await _enroll(client, tenant, archived["id"])
    assert neither.status_code == 422


async def _running_quiet_enrollment(client: httpx.AsyncClient, tenant, session_factory):  # type: ignore[no-untyped-def]
    """A new quiet sequence and a new lead enrolled in it from START, once the enrollment's workflow runs:
    (the sequence, the lead's id, the enrollment's id)."""
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    report = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at=START)).json()
    (enrollment_id,) = report["enrollment_ids"]
    await _running(client, tenant, enrollment_id)
    return sequence, lead, enrollment_id


async def test_pause_resume_stop_answer_409_on_a_repeat(client: httpx.AsyncClient, tenant, session_factory) -> None:
    sequence, lead, enrollment_id = await _running_quiet_enrollment(client, tenant, session_factory)
    url = f"{ENROLLMENTS}/{enrollment_id}"
    agent = tenant.headers("agent")

    paused = await client.post(f"{url}/pause", json={"reason": "lead on holiday"}, headers=agent)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["paused_at"] is not None
    repeat = await client.post(f"{url}/pause", headers=agent)
    assert repeat.status_code == 409, repeat.text
    assert repeat.json()["details"]["enrollment_id"] == enrollment_id

    resumed = await client.post(f"{url}/resume", headers=agent)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert (await client.post(f"{url}/resume", headers=agent)).status_code == 409

    stopped = await client.post(f"{url}/stop", json={"reason": "asked us to"}, headers=agent)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert stopped.json()["exit_reason"] == "stopped"
    assert (await client.post(f"{url}/stop", headers=agent)).status_code == 409
    assert (await client.post(f"{url}/pause", headers=agent)).status_code == 409

    async def mirrored() -> dict | None:
        stats = (await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=agent)).json()
        return stats if stats["stopped"] == 1 else None

    stats = await eventually(mirrored, what="the stop to reach the stats")
    assert stats["exited_by_reason"] == {"stopped": 1} and stats["active"] == 0

    # A stopped lead may be enrolled again: it has no open enrollment any more.
    again = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)])).json()
    assert again["enrolled"] == 1


async def test_next_action_at_is_null_while_paused_and_the_due_time_again_after_resume(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    report = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at=START)).json()
    (enrollment_id,) = report["enrollment_ids"]
    url = f"{ENROLLMENTS}/{enrollment_id}"
    agent = tenant.headers("agent")
    assert datetime.fromisoformat((await _running(client, tenant, enrollment_id))["next_action_at"]) == (
        datetime.fromisoformat(START)
    )

    async def listed() -> dict:
        rows = (await client.get(f"{SEQUENCES}/{sequence['id']}/enrollments", headers=agent)).json()
        return next(row for row in rows if row["id"] == enrollment_id)

    paused = await client.post(f"{url}/pause", headers=agent)
    assert paused.status_code == 200, paused.text
    assert paused.json()["next_action_at"] is None  # was: the old due time
    assert (await client.get(url, headers=agent)).json()["next_action_at"] is None
    assert ((await listed())["status"], (await listed())["next_action_at"]) == ("paused", None)  # the stored row

    resumed = await client.post(f"{url}/resume", headers=agent)
    assert resumed.status_code == 200, resumed.text
    assert datetime.fromisoformat(resumed.json()["next_action_at"]) == datetime.fromisoformat(START)
    assert datetime.fromisoformat((await listed())["next_action_at"]) == datetime.fromisoformat(START)

    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for schema in ("EnrollmentPublic", "EnrollmentSummary"):
        assert "null while paused" in schemas[schema]["properties"]["next_action_at"]["description"]


async def test_next_action_at_is_null_while_the_enrollment_waits_on_a_task(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=TASK_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1), owner_id=tenant.user_id("agent"))
    report = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)])).json()
    (enrollment_id,) = report["enrollment_ids"]
    url = f"{ENROLLMENTS}/{enrollment_id}"
    owner = tenant.headers("owner")

    async def waiting_on_task() -> dict | None:
        body = (await client.get(url, headers=owner)).json()
        return body if body.get("source") == "workflow" and body["open_task_id"] else None

    enrollment = await eventually(waiting_on_task, within=60, what="the sequence's task")
    assert enrollment["current_step_id"] == "call"
    assert enrollment["next_action_at"] is None  # was: the task's due time
    task = (await client.get(f"{TASKS}/{enrollment['open_task_id']}", headers=owner)).json()
    assert task["due_at"] is not None  # the due time lives on the task

    done = await client.post(f"{TASKS}/{task['id']}/complete", headers=owner)
    assert done.status_code == 200, done.text

    async def waiting() -> dict | None:
        body = (await client.get(url, headers=owner)).json()
        return body if any(h["step_id"] == "after_call" for h in body["history"]) else None

    after = await eventually(waiting, what="the wait after the task")
    (began,) = [h for h in after["history"] if h["step_id"] == "after_call"]
    # Back to a time again: the 3-day wait's end.
    assert datetime.fromisoformat(after["next_action_at"]) == datetime.fromisoformat(began["planned_at"]) + timedelta(
        days=3
    )


async def test_a_pause_or_stop_reason_with_a_nul_is_a_422_and_the_enrollment_can_still_be_stopped(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    """The reason reaches the database only in the workflow's mirror activity, which would retry for ever: the row
    would stay 'active' and the lead could never be enrolled again."""
    sequence, lead, enrollment_id = await _running_quiet_enrollment(client, tenant, session_factory)
    url = f"{ENROLLMENTS}/{enrollment_id}"
    agent = tenant.headers("agent")
    for action in ("pause", "stop"):
        refused = await client.post(f"{url}/{action}", json={"reason": "asked\u0000"}, headers=agent)
        assert refused.status_code == 422, refused.text
        assert [d["field"] for d in refused.json()["details"]] == ["reason"]
    stopped = await client.post(f"{url}/stop", json={"reason": "asked"}, headers=agent)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped", stopped.text

    async def mirrored() -> dict | None:
        stats = (await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=agent)).json()
        return stats if stats["stopped"] == 1 else None

    await eventually(mirrored, what="the stop to reach the database")
    assert (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)])).json()["enrolled"] == 1


async def test_a_lead_filter_with_a_nul_is_a_422_naming_it(client: httpx.AsyncClient, tenant) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    for field in ("q", "status"):
        refused = await _enroll(client, tenant, sequence["id"], filter={field: "ada\u0000"})
        assert refused.status_code == 422, refused.text
        assert [d["field"] for d in refused.json()["details"]] == [f"filter.{field}"]


async def test_a_running_enrollment_keeps_its_version_across_an_edit_and_a_publish(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    owner = tenant.headers("owner")
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    url = f"{SEQUENCES}/{sequence['id']}"
    early, late = await insert_leads(session_factory, tenant, us_phones(2))
    (v1_enrollment,) = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(early)], start_at=START)).json()[
        "enrollment_ids"
    ]
    await _running(client, tenant, v1_enrollment)

    v2_steps = [{"type": "wait", "id": "short_wait", "duration": {"hours": 5}}, *QUIET_STEPS[1:]]
    assert (await client.patch(url, json={"steps": v2_steps}, headers=owner)).status_code == 200
    # Only the draft changed: a new enrollment still starts on version 1.
    assert (await client.get(url, headers=owner)).json()["latest_version"] == 1
    stats = (await client.get(f"{url}/stats", headers=owner)).json()
    assert [s["step_id"] for s in stats["steps"]] == ["first_wait", "nudge"]
    assert (await client.post(f"{url}/publish", headers=owner)).json()["version"] == 2

    (v2_enrollment,) = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(late)], start_at=START)).json()[
        "enrollment_ids"
    ]
    old = await _running(client, tenant, v1_enrollment)
    new = await _running(client, tenant, v2_enrollment)
    assert old["sequence_version"] == 1 and old["current_step_id"] == "first_wait"
    assert new["sequence_version"] == 2 and new["current_step_id"] == "short_wait"
    frozen = (await client.get(f"{url}/versions/1", headers=owner)).json()
    assert [s["id"] for s in frozen["steps"]] == ["first_wait", "nudge"]
    stats = (await client.get(f"{url}/stats", headers=owner)).json()
    assert [s["step_id"] for s in stats["steps"]] == ["short_wait", "nudge"] and stats["enrolled"] == 2


async def test_agents_enroll_and_control_and_everyone_needs_credentials(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    assert (
        await client.post(f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]})
    ).status_code == 401
    report = await _enroll(client, tenant, sequence["id"], role="agent", lead_ids=[str(lead)])
    assert report.status_code == 202 and report.json()["enrolled"] == 1
    (enrollment_id,) = report.json()["enrollment_ids"]
    assert (await client.get(f"{ENROLLMENTS}/{enrollment_id}")).status_code == 401
    assert (await client.get(report.json()["job"]["url"])).status_code == 401
    assert (await finished_job(client, tenant, report, role="agent"))["started"] == 1


ENROLLMENT_ENDPOINTS = [("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/stop")]


@pytest.mark.parametrize(
    ("method", "suffix"), ENROLLMENT_ENDPOINTS, ids=[f"{m} {s or '/'}" for m, s in ENROLLMENT_ENDPOINTS]
)
async def test_another_tenants_enrollment_is_not_found(
    client: httpx.AsyncClient, tenant, make_tenant, session_factory, method: str, suffix: str
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    (enrollment_id,) = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)])).json()["enrollment_ids"]
    intruder = await make_tenant()
    response = await client.request(method, f"{ENROLLMENTS}/{enrollment_id}{suffix}", headers=intruder.headers("owner"))
    assert response.status_code == 404, response.text
    mine = await _running(client, tenant, enrollment_id)
    assert mine["status"] == "active"


async def test_another_tenants_sequence_takes_no_enrollment(
    client: httpx.AsyncClient, tenant, make_tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    intruder = await make_tenant()
    (their_lead,) = await insert_leads(session_factory, intruder, us_phones(1))
    response = await _enroll(client, intruder, sequence["id"], role="owner", lead_ids=[str(their_lead)])
    assert response.status_code == 404
    stats = await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=intruder.headers("owner"))
    assert stats.status_code == 404
    assert (await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=tenant.headers())).json()["enrolled"] == 0


# A start in the past: every step is already due, so (with business hours open all week) the enrollment runs to its
# end at once, whatever the time of day the test runs.
PAST_MONDAY = "2026-01-05T15:00:00Z"


@pytest.mark.usefixtures("worker_uses_sandbox")
async def test_stats_count_sends_and_failures_per_step(
    client: httpx.AsyncClient, tenant, session_factory, sandbox_control
) -> None:
    await sandbox_account(client, sandbox_control, tenant.headers())
    steps = [
        {"type": "send_whatsapp", "id": "welcome", "template": {"name": "welcome", "language": "en_US"}},
        {"type": "send_whatsapp", "id": "free_text", "text": "Hi {{first_name}}"},
        {"type": "wait", "id": "rest", "duration": {"days": 3}},
    ]
    # Open all week: a start in the past then runs every step at once (business hours would hold the sends back).
    settings = {"business_hours": ALL_WEEK}
    sequence = await create_sequence(client, tenant, publish=True, steps=steps, settings=settings)
    leads = await insert_leads(session_factory, tenant, us_phones(2))
    body = {"lead_ids": [str(i) for i in leads], "start_at": PAST_MONDAY}
    report = (await _enroll(client, tenant, sequence["id"], **body)).json()
    assert report["enrolled"] == 2

    async def both_done() -> dict | None:
        stats = (await client.get(f"{SEQUENCES}/{sequence['id']}/stats", headers=tenant.headers("agent"))).json()
        return stats if stats["completed"] == 2 else None

    stats = await eventually(both_done, what="both enrollments to complete")
    assert stats["enrolled"] == 2 and stats["active"] == 0 and stats["exited_by_reason"] == {}
    by_step = {s["step_id"]: s for s in stats["steps"]}
    assert [s["step_id"] for s in stats["steps"]] == ["welcome", "free_text", "rest"]
    assert (by_step["welcome"]["sends"], by_step["welcome"]["failures"]) == (2, 0)
    # Free text to a lead who never wrote is refused by the 24-hour rule (no fallback template set): a failure.
    assert (by_step["free_text"]["sends"], by_step["free_text"]["failures"]) == (0, 2)
    enrollment = (await client.get(f"{ENROLLMENTS}/{report['enrollment_ids'][0]}", headers=tenant.headers())).json()
    results = [(h["step_id"], h["result"]) for h in enrollment["history"]]
    assert results[:2] == [("welcome", "sent"), ("free_text", "failed")]
    assert "24 h" in enrollment["history"][1]["detail"]


async def test_send_pacing_spreads_the_first_steps_and_the_list_shows_every_enrollment(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(
        client, tenant, publish=True, steps=QUIET_STEPS, settings={"send_pacing": {"per_minute": 60}}
    )
    leads = await insert_leads(session_factory, tenant, us_phones(3))
    report = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(i) for i in leads], start_at=START)).json()
    assert report["enrolled"] == 3
    starts = [
        datetime.fromisoformat((await _running(client, tenant, enrollment_id))["next_action_at"])
        for enrollment_id in report["enrollment_ids"]
    ]
    first = datetime.fromisoformat(START)
    assert starts == [first, first + timedelta(seconds=1), first + timedelta(seconds=2)]

    listed = (await client.get(f"{SEQUENCES}/{sequence['id']}/enrollments", headers=tenant.headers("agent"))).json()
    assert sorted(e["id"] for e in listed) == sorted(report["enrollment_ids"])
    assert {e["lead_id"] for e in listed} == {str(i) for i in leads}
    assert all(e["sequence_version"] == 1 for e in listed)
    none_stopped = await client.get(
        f"{SEQUENCES}/{sequence['id']}/enrollments", params={"status": "stopped"}, headers=tenant.headers("agent")
    )
    assert none_stopped.json() == []


async def _starts_failing(*args, **kwargs):
    raise ServiceUnavailable("the enrollment's workflow could not be started; try again")


async def test_a_start_that_failed_is_reported_and_the_same_request_again_starts_it(
    client: httpx.AsyncClient, tenant, session_factory, monkeypatch
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))

    monkeypatch.setattr(SequenceWorkflowClient, "start", _starts_failing)
    body = {"lead_ids": [str(lead)], "start_at": START}
    accepted = await _enroll(client, tenant, sequence["id"], **body)
    report = accepted.json()
    assert report["enrolled"] == 1
    (enrollment_id,) = report["enrollment_ids"]
    job = await finished_job(client, tenant, accepted)
    assert (job["state"], job["total"], job["started"], job["failed"]) == ("done", 1, 0, 1)
    assert job["failed_by_reason"] == {"workflow_not_started": 1}
    (failed,) = job["failed_items"]
    assert failed["enrollment_id"] == enrollment_id and "could not be started" in failed["message"]
    saved = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=tenant.headers("agent"))).json()
    assert saved["source"] == "database" and saved["status"] == "active" and saved["started_at"] is None

    monkeypatch.undo()
    again = await _enroll(client, tenant, sequence["id"], **body)
    retried = again.json()
    assert retried["enrolled"] == 0
    assert retried["skipped"] == [{"lead_id": str(lead), "reason": "already_enrolled", "enrollment_id": enrollment_id}]
    job = await finished_job(client, tenant, again)
    assert (job["total"], job["started"], job["skipped"], job["failed"]) == (1, 0, 1, 0)
    running = await _running(client, tenant, enrollment_id)
    assert running["current_step_id"] == "first_wait"


async def test_a_start_retried_after_a_new_publish_runs_the_version_and_start_time_it_was_enrolled_with(
    client: httpx.AsyncClient, tenant, session_factory, monkeypatch
) -> None:
    owner = tenant.headers("owner")
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    url = f"{SEQUENCES}/{sequence['id']}"
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))

    monkeypatch.setattr(SequenceWorkflowClient, "start", _starts_failing)
    accepted = await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at=START)
    (enrollment_id,) = accepted.json()["enrollment_ids"]
    assert (await finished_job(client, tenant, accepted))["failed"] == 1

    # Version 2 is published before the same request is sent again (with another start time).
    v2_steps = [{"type": "wait", "id": "short_wait", "duration": {"hours": 5}}, *QUIET_STEPS[1:]]
    assert (await client.patch(url, json={"steps": v2_steps}, headers=owner)).status_code == 200
    assert (await client.post(f"{url}/publish", headers=owner)).json()["version"] == 2
    monkeypatch.undo()
    later = "2026-12-09T10:00:00Z"
    again = await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at=later)
    assert again.json()["skipped"][0]["enrollment_id"] == enrollment_id
    await finished_job(client, tenant, again)

    running = await _running(client, tenant, enrollment_id)
    # The row says version 1, and the workflow runs version 1 from the start it was enrolled with.
    assert running["sequence_version"] == 1 and running["current_step_id"] == "first_wait"
    assert datetime.fromisoformat(running["next_action_at"]) == datetime.fromisoformat(START)


async def test_a_bulk_enrollment_by_filter_enrolls_each_lead_once(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    # Hundreds keep the suite quick on a shared Temporal dev server; bench/ drives thousands.
    leads = await insert_leads(session_factory, tenant, us_phones(400), name="Bulk Lead")
    body = {"filter": {"stage": "new"}, "start_at": START}
    accepted = await _enroll(client, tenant, sequence["id"], role="owner", **body)
    report = accepted.json()
    assert report["enrolled"] == 400 and report["skipped"] == []
    job = await finished_job(client, tenant, accepted, within=120)
    assert (job["state"], job["total"], job["started"], job["skipped"], job["failed"]) == ("done", 400, 400, 0, 0)
    assert len(set(report["enrollment_ids"])) == 400

    again = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(i) for i in leads])).json()
    assert again["enrolled"] == 0 and {s["reason"] for s in again["skipped"]} == {"already_enrolled"}
    assert len(again["skipped"]) == 400
    listed = await client.get(
        f"{SEQUENCES}/{sequence['id']}/enrollments", params={"limit": 1000}, headers=tenant.headers()
    )
    assert {e["lead_id"] for e in listed.json()} == {str(i) for i in leads}


async def test_archiving_keeps_running_enrollments_going(client: httpx.AsyncClient, tenant, session_factory) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    first, second = await insert_leads(session_factory, tenant, us_phones(2))
    (enrollment_id,) = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(first)], start_at=START)).json()[
        "enrollment_ids"
    ]
    await _running(client, tenant, enrollment_id)
    archived = await client.post(f"{SEQUENCES}/{sequence['id']}/archive", headers=tenant.headers("owner"))
    assert archived.status_code == 200

    still = await _running(client, tenant, enrollment_id)
    assert still["status"] == "active" and still["current_step_id"] == "first_wait"
    paused = await client.post(f"{ENROLLMENTS}/{enrollment_id}/pause", headers=tenant.headers("agent"))
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    refused = await _enroll(client, tenant, sequence["id"], lead_ids=[str(second)])
    assert refused.status_code == 409


async def test_deleting_a_lead_stops_its_enrollments_workflows(
    client: httpx.AsyncClient, tenant, session_factory, temporal_client
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    lead, other = await insert_leads(session_factory, tenant, us_phones(2))
    report = (await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead), str(other)], start_at=START)).json()
    enrollment_ids = report["enrollment_ids"]
    views = [await _running(client, tenant, enrollment_id) for enrollment_id in enrollment_ids]
    mine = next(view for view in views if view["lead_id"] == str(lead))

    deleted = await client.delete(f"/api/v1/leads/{lead}", headers=tenant.headers("owner"))
    assert deleted.status_code == 204, deleted.text

    description = await temporal_client.get_workflow_handle(mine["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED
    assert (await client.get(f"{ENROLLMENTS}/{mine['id']}", headers=tenant.headers("agent"))).status_code == 404
    # The other lead's enrollment is untouched.
    (theirs,) = [view for view in views if view["lead_id"] == str(other)]
    assert (await _running(client, tenant, theirs["id"]))["status"] == "active"


async def test_an_enrollment_starting_more_than_five_years_ahead_or_behind_is_a_422(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    (lead,) = await insert_leads(session_factory, tenant, us_phones(1))
    far = await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at="9999-12-30T09:00:00Z")
    assert far.status_code == 422 and "five years ahead" in far.json()["message"], far.text
    past = await _enroll(client, tenant, sequence["id"], lead_ids=[str(lead)], start_at="0001-01-01T00:00:00+01:00")
    assert past.status_code == 422 and "five years in the past" in past.json()["message"], past.text
    assert (await client.get(f"{SEQUENCES}/{sequence['id']}/enrollments", headers=tenant.headers())).json() == []

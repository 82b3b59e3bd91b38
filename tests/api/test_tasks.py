"""The task inbox through the HTTP API against real SequenceWorkflows: an agent sees and completes or skips their own
task (a second time is a 409) and the enrollment moves on; another agent's task is a 404 to them but visible to owners
and admins; an agent API key has no inbox; another tenant's task is a 404 on every endpoint; a note holding a NUL is
a 422 up front."""

import asyncio

import httpx
import pytest

from tests.fixtures.crm import PASSWORD, session_headers
from tests.fixtures.sequences import (
    ENROLLMENTS,
    SEQUENCES,
    TASK_STEPS,
    TASKS,
    create_sequence,
    eventually,
    insert_leads,
    us_phones,
)

pytestmark = pytest.mark.usefixtures("lead_worker")


async def _task_for(client: httpx.AsyncClient, tenant, session_factory, *, owner_role: str = "agent") -> dict:
    """Enroll a new lead owned by `owner_role`'s user in a sequence starting with a task; the task once created."""
    sequence = await create_sequence(client, tenant, publish=True, steps=TASK_STEPS)
    (lead,) = await insert_leads(
        session_factory, tenant, us_phones(1), name="Grace Hopper", owner_id=tenant.user_id(owner_role)
    )
    report = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]}, headers=tenant.headers("owner")
    )
    (enrollment_id,) = report.json()["enrollment_ids"]

    async def created() -> dict | None:
        tasks = (await client.get(TASKS, params={"assignee": "all"}, headers=tenant.headers("owner"))).json()
        return next((t for t in tasks if t["enrollment_id"] == enrollment_id), None)

    return await eventually(created, within=60, what="the sequence's task")


async def _login(make_client, settings, tenant, role: str) -> dict[str, str]:
    async with make_client() as c:
        return await session_headers(c, settings, tenant.users[role].email, PASSWORD)


async def _moved_on(client: httpx.AsyncClient, task: dict, headers: dict[str, str]) -> dict:
    """The task's enrollment, once it left the task step."""

    async def moved_on() -> dict | None:
        view = (await client.get(f"{ENROLLMENTS}/{task['enrollment_id']}", headers=headers)).json()
        return view if view["current_step_id"] == "after_call" else None

    return await eventually(moved_on, what="the enrollment to leave the task step")


async def test_an_agent_completes_their_task_once_and_the_enrollment_moves_on(
    client: httpx.AsyncClient, tenant, session_factory, make_client, settings
) -> None:
    task = await _task_for(client, tenant, session_factory)
    assert task["title"] == "Call Grace Hopper" and task["status"] == "open"
    assert task["assignee_id"] == str(tenant.user_id("agent")) and task["step_id"] == "call"
    agent = await _login(make_client, settings, tenant, "agent")

    inbox = (await client.get(TASKS, headers=agent)).json()
    assert task["id"] in [t["id"] for t in inbox]
    # Each task names its lead, so a list of them says who to call.
    listed = next(t for t in inbox if t["id"] == task["id"])
    assert listed["lead_name"] == "Grace Hopper" and listed["lead_phone"].startswith("+1202")

    done = await client.post(
        f"{TASKS}/{task['id']}/complete", json={"note": "booked a demo", "outcome": "meeting booked"}, headers=agent
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["note"] == "booked a demo"
    assert done.json()["outcome"] == "meeting booked"  # through the workflow's close-task activity
    assert done.json()["closed_by"] == f"user:{tenant.user_id('agent')}"
    assert done.json()["lead_name"] == "Grace Hopper"

    twice = await client.post(f"{TASKS}/{task['id']}/complete", headers=agent)
    assert twice.status_code == 409 and "completed" in twice.json()["message"]
    assert (await client.post(f"{TASKS}/{task['id']}/skip", headers=agent)).status_code == 409
    assert task["id"] not in [t["id"] for t in (await client.get(TASKS, headers=agent)).json()]
    closed = (await client.get(TASKS, params={"status": "completed"}, headers=agent)).json()
    assert [t["id"] for t in closed] == [task["id"]] and closed[0]["outcome"] == "meeting booked"

    enrollment = await _moved_on(client, task, agent)
    assert any(h["result"] == "task_completed" for h in enrollment["history"])


async def test_skipping_a_task_also_moves_the_enrollment_on(
    client: httpx.AsyncClient, tenant, session_factory, make_client, settings
) -> None:
    task = await _task_for(client, tenant, session_factory, owner_role="admin")
    admin = await _login(make_client, settings, tenant, "admin")
    too_long = await client.post(f"{TASKS}/{task['id']}/skip", json={"outcome": "x" * 81}, headers=admin)
    assert too_long.status_code == 422 and [d["field"] for d in too_long.json()["details"]] == ["outcome"]
    skipped = await client.post(f"{TASKS}/{task['id']}/skip", headers=admin)
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert skipped.json()["outcome"] is None
    assert (await client.post(f"{TASKS}/{task['id']}/skip", headers=admin)).status_code == 409

    enrollment = await _moved_on(client, task, admin)
    assert any(h["result"] == "task_skipped" for h in enrollment["history"])


async def test_a_note_with_a_nul_is_a_422_naming_it_and_the_task_can_still_be_closed(
    client: httpx.AsyncClient, tenant, session_factory, make_client, settings
) -> None:
    """The note reaches the database only in the workflow's close-task activity, which would retry for ever: the task
    would stay 'closing' and the enrollment never move on."""
    task = await _task_for(client, tenant, session_factory)
    agent = await _login(make_client, settings, tenant, "agent")
    for action in ("complete", "skip"):
        try:
            bad = await asyncio.wait_for(
                client.post(f"{TASKS}/{task['id']}/{action}", json={"note": "booked\u0000"}, headers=agent), timeout=20
            )
        except TimeoutError:
            pytest.fail(f"{action} with a NUL in the note hung (the close-task activity retries for ever)")
        assert bad.status_code == 422, bad.text
        assert [d["field"] for d in bad.json()["details"]] == ["note"]
    done = await asyncio.wait_for(
        client.post(f"{TASKS}/{task['id']}/complete", json={"note": "booked"}, headers=agent), timeout=20
    )
    assert done.status_code == 200 and done.json()["note"] == "booked", done.text


async def test_an_agent_cannot_see_or_act_on_someone_elses_task(
    client: httpx.AsyncClient, tenant, session_factory, make_client, settings
) -> None:
    task = await _task_for(client, tenant, session_factory, owner_role="admin")
    agent = await _login(make_client, settings, tenant, "agent")
    assert task["id"] not in [t["id"] for t in (await client.get(TASKS, headers=agent)).json()]
    assert (await client.get(f"{TASKS}/{task['id']}", headers=agent)).status_code == 404
    assert (await client.post(f"{TASKS}/{task['id']}/complete", headers=agent)).status_code == 404
    assert (await client.post(f"{TASKS}/{task['id']}/skip", headers=agent)).status_code == 404
    assert (await client.get(TASKS, params={"assignee": "all"}, headers=agent)).status_code == 403

    # Owners and admins see every task, and may filter by assignee.
    owner = tenant.headers("owner")
    by_admin = (await client.get(TASKS, params={"assignee": str(tenant.user_id("admin"))}, headers=owner)).json()
    assert [t["id"] for t in by_admin] == [task["id"]]
    assert (await client.get(TASKS, params={"assignee": str(tenant.user_id("agent"))}, headers=owner)).json() == []
    assert (await client.get(f"{TASKS}/{task['id']}", headers=owner)).json()["status"] == "open"
    # An agent API key is nobody's inbox.
    assert (await client.get(TASKS, headers=tenant.headers("agent"))).status_code == 403


TASK_ENDPOINTS = [("GET", ""), ("POST", "/complete"), ("POST", "/skip")]


@pytest.mark.parametrize(("method", "suffix"), TASK_ENDPOINTS, ids=[f"{m} {s or '/'}" for m, s in TASK_ENDPOINTS])
async def test_another_tenants_task_is_not_found(
    client: httpx.AsyncClient, tenant, make_tenant, session_factory, method: str, suffix: str
) -> None:
    task = await _task_for(client, tenant, session_factory)
    intruder = await make_tenant()
    response = await client.request(method, f"{TASKS}/{task['id']}{suffix}", headers=intruder.headers("owner"))
    assert response.status_code == 404, response.text
    assert (await client.get(TASKS, params={"assignee": "all"}, headers=intruder.headers("owner"))).json() == []
    mine = await client.get(f"{TASKS}/{task['id']}", headers=tenant.headers("owner"))
    assert mine.json()["status"] == "open"


NON_BLOCKING_TASK_STEPS = [
    {"type": "task", "id": "note", "title": "Look at {{name}}", "due_in": {"days": 1}, "wait_for_completion": False},
    {"type": "wait", "id": "long_wait", "duration": {"days": 3}},
    {"type": "send_whatsapp", "id": "later", "text": "Hi {{first_name}}"},
]


async def test_a_task_the_sequence_does_not_wait_for_is_completed_once_and_the_sequence_goes_on(
    client: httpx.AsyncClient, tenant, session_factory, make_client, settings
) -> None:
    sequence = await create_sequence(client, tenant, publish=True, steps=NON_BLOCKING_TASK_STEPS)
    (lead,) = await insert_leads(
        session_factory, tenant, us_phones(1), name="Grace Hopper", owner_id=tenant.user_id("agent")
    )
    owner = tenant.headers("owner")
    report = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [str(lead)]}, headers=owner
    )
    (enrollment_id,) = report.json()["enrollment_ids"]

    async def created() -> dict | None:
        tasks = (await client.get(TASKS, params={"assignee": "all"}, headers=owner)).json()
        return next((t for t in tasks if t["enrollment_id"] == enrollment_id), None)

    task = await eventually(created, within=60, what="the sequence's task")
    assert task["status"] == "open"

    async def waiting() -> dict | None:
        body = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=owner)).json()
        return body if body.get("current_step_id") == "long_wait" else None

    await eventually(waiting, within=60, what="the enrollment to move past the task")
    agent = await _login(make_client, settings, tenant, "agent")
    done = await client.post(
        f"{TASKS}/{task['id']}/complete", json={"note": "looked", "outcome": "no answer"}, headers=agent
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["note"] == "looked"
    assert done.json()["outcome"] == "no answer"
    again = await client.post(f"{TASKS}/{task['id']}/skip", headers=agent)
    assert again.status_code == 409, again.text
    enrollment = (await client.get(f"{ENROLLMENTS}/{enrollment_id}", headers=owner)).json()
    assert enrollment["status"] == "active" and enrollment["current_step_id"] == "long_wait"


async def test_a_leads_tasks_and_enrollments_are_listed_on_their_own(
    client: httpx.AsyncClient, tenant, session_factory, make_tenant
) -> None:
    """What the lead page shows: the lead's open tasks (`lead_id`) and its enrollments in every sequence."""
    task = await _task_for(client, tenant, session_factory)
    other = await _task_for(client, tenant, session_factory)
    mine = (
        await client.get(TASKS, params={"lead_id": task["lead_id"], "assignee": "all"}, headers=tenant.headers())
    ).json()
    assert [t["id"] for t in mine] == [task["id"]]
    assert other["lead_id"] != task["lead_id"]

    enrollments = await client.get(f"/api/v1/leads/{task['lead_id']}/enrollments", headers=tenant.headers("agent"))
    assert enrollments.status_code == 200, enrollments.text
    (enrollment,) = enrollments.json()
    assert enrollment["id"] == task["enrollment_id"] and enrollment["sequence_version"] == 1
    assert enrollment["sequence_name"].startswith("Welcome ")
    stranger = await make_tenant()
    hidden = await client.get(f"/api/v1/leads/{task['lead_id']}/enrollments", headers=stranger.headers())
    assert hidden.status_code == 404

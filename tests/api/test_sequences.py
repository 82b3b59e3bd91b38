"""Sequence definitions through the HTTP API: create/list/get/edit, validation errors pointing at the step and field,
publish freezing versions (an edit never changes a published version), archive, preview in several time zones,
roles, another tenant's sequence being a 404 on every endpoint, and a NUL character being a 422 naming its field."""

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest

from tests.fixtures.sequences import SEQUENCES, create_sequence, definition_body, insert_leads


async def test_create_normalises_the_draft(client: httpx.AsyncClient, tenant) -> None:
    response = await client.post(SEQUENCES, json=definition_body(name="Welcome"), headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    sequence = response.json()
    assert sequence["name"] == "Welcome" and sequence["status"] == "draft"
    assert sequence["latest_version"] is None and sequence["has_unpublished_changes"] is True
    ids = [step["id"] for step in sequence["steps"]]
    assert ids == ["hello", "wait_1", "send_whatsapp_1", "wait_for_reply_1", "task_1"]
    assert sequence["steps"][3]["timeout"] == {"days": 3, "hours": 0, "minutes": 0, "seconds": 0}
    assert sequence["settings"]["exit_on_reply"] is True
    assert sequence["created_by"] == f"api_key:{sequence['created_by'].split(':', 1)[1]}"

    listed = (await client.get(SEQUENCES, headers=tenant.headers("agent"))).json()
    assert [s["id"] for s in listed] == [sequence["id"]]
    fetched = await client.get(f"{SEQUENCES}/{sequence['id']}", headers=tenant.headers("agent"))
    assert fetched.status_code == 200 and fetched.json() == sequence


async def test_a_create_retried_with_its_idempotency_key_saves_one_draft(
    client: httpx.AsyncClient, tenant, make_tenant
) -> None:
    headers = {**tenant.headers("owner"), "Idempotency-Key": f"seq-{uuid.uuid4()}"}
    body = definition_body(name="Welcome")
    answers = await asyncio.gather(*(client.post(SEQUENCES, json=body, headers=headers) for _ in range(3)))
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1  # was three drafts
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true", "true"]
    listed = (await client.get(SEQUENCES, headers=tenant.headers())).json()
    assert [s["id"] for s in listed if s["name"] == "Welcome"] == [answers[0].json()["id"]]

    other = await client.post(SEQUENCES, json=definition_body(name="Something else"), headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["details"] == [
        {"field": "Idempotency-Key", "reason": "used for another request", "sequence_id": answers[0].json()["id"]}
    ]
    elsewhere = await make_tenant()
    theirs = await client.post(
        SEQUENCES, json=body, headers={**elsewhere.headers("owner"), "Idempotency-Key": headers["Idempotency-Key"]}
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != answers[0].json()["id"]


@pytest.mark.parametrize(
    ("steps", "settings_body", "path", "fragment"),
    [
        ([{"type": "send_whatsapp", "text": "Hi {{frist_name}}"}], {}, "steps[0].text", "unknown variable"),
        (
            [{"type": "send_whatsapp", "text": "a"}, {"type": "wait", "duration": {"days": 0}}],
            {},
            "steps[1].duration",
            "longer than zero",
        ),
        (
            [
                {"type": "send_whatsapp", "text": "a"},
                {"type": "wait_for_reply", "timeout": "P1D", "on_reply": "exit", "on_timeout": "exit"},
                {"type": "send_whatsapp", "text": "never sent"},
            ],
            {},
            "steps[2]",
            "never be reached",
        ),
        ([{"type": "set_status", "status": "nonexistent"}], {}, "steps[0].status", "unknown status"),
        ([{"type": "fax", "text": "x"}], {}, "steps[0].type", "unknown or missing step type"),
        ([{"type": "send_whatsapp"}], {}, "steps[0].text", "exactly one"),
        ([], {}, "steps", "at least one step"),
        (
            [{"type": "send_whatsapp", "text": "a"}],
            {"business_hours": {"start": "18:00", "end": "09:00"}},
            "settings.business_hours.end",
            "must be after start",
        ),
        (
            [{"type": "send_whatsapp", "text": "a"}],
            {"exit_on_stages": ["won"]},
            "settings.exit_on_stages",
            "opted_out",
        ),
    ],
)
async def test_invalid_definitions_answer_422_with_the_step_path(
    client: httpx.AsyncClient, tenant, steps, settings_body, path: str, fragment: str
) -> None:
    body = {"name": "Broken", "steps": steps, "settings": settings_body}
    response = await client.post(SEQUENCES, json=body, headers=tenant.headers("owner"))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_sequence"
    matching = [d for d in error["details"] if d["path"] == path]
    assert matching, error["details"]
    assert fragment in matching[0]["message"]
    assert (await client.get(SEQUENCES, headers=tenant.headers("owner"))).json() == []


async def test_every_problem_is_listed_at_once(client: httpx.AsyncClient, tenant) -> None:
    steps = [
        {"type": "send_whatsapp", "text": "Hi {{nope}}"},
        {"type": "wait", "duration": 0},
        {"type": "task", "title": "Call {{custom.}}"},
    ]
    response = await client.post(SEQUENCES, json={"name": "x", "steps": steps}, headers=tenant.headers("owner"))
    assert response.status_code == 422
    paths = {d["path"] for d in response.json()["details"]}
    assert {"steps[0].text", "steps[1].duration", "steps[2].title"} <= paths


async def test_shape_errors_and_rule_errors_come_in_one_answer(client: httpx.AsyncClient, tenant) -> None:
    steps = [
        {"type": "send_whatsapp", "text": "Hi {{frist_name}}"},
        {"type": "wait", "duration": "two days"},
        {"type": "task", "title": "Call {{fone}}", "due_in": "P1X", "assignee": str(uuid.uuid4())},
    ]
    settings = {"fallback_timezone": "Mars/Olympus", "business_hours": {"start": "18:00", "end": "09:00"}}
    body = {"name": "Broken", "steps": steps, "settings": settings}
    response = await client.post(SEQUENCES, json=body, headers=tenant.headers("owner"))
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_sequence"
    assert [d["path"] for d in error["details"]] == [
        "steps[0].text",
        "steps[1].duration",
        "steps[2].due_in",
        "steps[2].title",
        "steps[2].assignee",
        "settings.fallback_timezone",
        "settings.business_hours.end",
    ]
    messages = " | ".join(d["message"] for d in error["details"])
    for fragment in ("'{{frist_name}}'", "'two days'", "'P1X'", "'{{fone}}'", "not an active user", "Mars/Olympus"):
        assert fragment in messages
    # Every problem in the message too, none left out as "(and 4 more)".
    assert error["message"].startswith("the sequence has 7 problems: steps[0].text: ")
    assert all(f"{d['path']}: {d['message']}" in error["message"] for d in error["details"])


async def test_set_status_accepts_the_tenants_own_status_keys(client: httpx.AsyncClient, tenant) -> None:
    created = await client.post(
        "/api/v1/statuses",
        json={"key": "demo_booked", "label": "Demo booked", "stage": "qualified"},
        headers=tenant.headers("owner"),
    )
    assert created.status_code == 201, created.text
    body = definition_body(
        steps=[{"type": "send_whatsapp", "text": "a"}, {"type": "set_status", "status": "demo_booked"}]
    )
    response = await client.post(SEQUENCES, json=body, headers=tenant.headers("owner"))
    assert response.status_code == 201, response.text


async def test_a_task_assignee_must_be_a_user_of_the_tenant(client: httpx.AsyncClient, tenant, make_tenant) -> None:
    other = await make_tenant()
    for assignee in (str(other.user_id("agent")), str(uuid.uuid4()), "somebody"):
        steps = [{"type": "task", "title": "Call", "assignee": assignee}]
        response = await client.post(SEQUENCES, json=definition_body(steps=steps), headers=tenant.headers())
        assert response.status_code == 422, response.text
        assert response.json()["details"] == [
            {"path": "steps[0].assignee", "message": response.json()["details"][0]["message"]}
        ]
        assert "not an active user" in response.json()["details"][0]["message"]
    steps = [{"type": "task", "title": "Call", "assignee": str(tenant.user_id("admin"))}]
    assert (
        await client.post(SEQUENCES, json=definition_body(steps=steps), headers=tenant.headers())
    ).status_code == 201


async def test_a_bad_patch_leaves_the_draft_as_it_was(client: httpx.AsyncClient, tenant) -> None:
    sequence = await create_sequence(client, tenant)
    bad = [{"type": "send_whatsapp", "text": "Hi {{unknown}}"}]
    response = await client.patch(f"{SEQUENCES}/{sequence['id']}", json={"steps": bad}, headers=tenant.headers("owner"))
    assert response.status_code == 422
    assert response.json()["details"][0]["path"] == "steps[0].text"
    fetched = (await client.get(f"{SEQUENCES}/{sequence['id']}", headers=tenant.headers("owner"))).json()
    assert fetched["steps"] == sequence["steps"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Welcome\u0000"}, "name"),
        ({"description": "\u0000"}, "description"),
        ({"steps": [{"type": "send_whatsapp", "text": "Hi\u0000"}]}, "steps"),
        ({"settings": {"exit_on_stages\u0000": []}}, "settings"),
    ],
)
async def test_a_nul_character_is_a_422_naming_the_field(client: httpx.AsyncClient, tenant, body, field: str) -> None:
    """Refused before the definition is validated or saved, naming the field (not only the database's invalid_value)."""
    created = await client.post(SEQUENCES, json=definition_body(**body), headers=tenant.headers("owner"))
    assert created.status_code == 422, created.text
    assert [d["field"] for d in created.json()["details"]] == [field]
    sequence = await create_sequence(client, tenant)
    edited = await client.patch(f"{SEQUENCES}/{sequence['id']}", json=body, headers=tenant.headers("owner"))
    assert edited.status_code == 422, edited.text
    assert [d["field"] for d in edited.json()["details"]] == [field]


async def test_publish_freezes_a_version_and_edits_make_the_next_one(client: httpx.AsyncClient, tenant) -> None:
    owner = tenant.headers("owner")
    sequence = await create_sequence(client, tenant)
    url = f"{SEQUENCES}/{sequence['id']}"

    v1 = await client.post(f"{url}/publish", headers=owner)
    assert v1.status_code == 200, v1.text
    assert v1.json()["version"] == 1
    published = (await client.get(url, headers=owner)).json()
    assert published["status"] == "active" and published["latest_version"] == 1
    assert published["has_unpublished_changes"] is False

    # Publishing an unchanged draft again does not mint a version (a retried publish is harmless).
    again = await client.post(f"{url}/publish", headers=owner)
    assert again.json()["version"] == 1

    new_steps = [{"type": "send_whatsapp", "id": "only", "text": "A different message"}]
    edited = await client.patch(url, json={"steps": new_steps, "name": "Renamed"}, headers=owner)
    assert edited.status_code == 200, edited.text
    assert edited.json()["has_unpublished_changes"] is True and edited.json()["latest_version"] == 1
    assert edited.json()["name"] == "Renamed"

    frozen = (await client.get(f"{url}/versions/1", headers=owner)).json()
    assert frozen["steps"] == sequence["steps"]
    assert frozen["steps"][0]["id"] == "hello"

    v2 = await client.post(f"{url}/publish", headers=owner)
    assert v2.json()["version"] == 2 and v2.json()["steps"][0]["text"] == "A different message"
    versions = (await client.get(f"{url}/versions", headers=owner)).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["steps"] == sequence["steps"]
    assert (await client.get(f"{url}/versions/3", headers=owner)).status_code == 404


async def test_archive_stops_edits_and_publishing(client: httpx.AsyncClient, tenant) -> None:
    owner = tenant.headers("owner")
    sequence = await create_sequence(client, tenant, publish=True)
    url = f"{SEQUENCES}/{sequence['id']}"
    archived = await client.post(f"{url}/archive", headers=owner)
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert archived.json()["archived_at"] is not None
    assert (await client.post(f"{url}/publish", headers=owner)).status_code == 409
    assert (await client.patch(url, json={"name": "x"}, headers=owner)).status_code == 409
    listed = (await client.get(SEQUENCES, params={"status": "archived"}, headers=owner)).json()
    assert [s["id"] for s in listed] == [sequence["id"]]
    assert (await client.get(SEQUENCES, params={"status": "active"}, headers=owner)).json() == []


# Preview ------------------------------------------------------------------------------------------------------------

# Saturday 2026-12-05 10:00 UTC: every zone below is on its weekend, so the first send waits for Monday 09:00 local.
SATURDAY = "2026-12-05T10:00:00Z"


@pytest.mark.parametrize(
    ("phone", "zone", "monday_9_utc"),
    [
        ("+12025550143", "America/New_York", "2026-12-07T14:00:00Z"),
        ("+442079460018", "Europe/London", "2026-12-07T09:00:00Z"),
        ("+972525551234", "Asia/Jerusalem", "2026-12-07T07:00:00Z"),
        ("+919876543210", "Asia/Calcutta", "2026-12-07T03:30:00Z"),
    ],
)
async def test_preview_follows_business_hours_in_the_leads_zone(
    client: httpx.AsyncClient, tenant, phone: str, zone: str, monday_9_utc: str
) -> None:
    sequence = await create_sequence(client, tenant)
    response = await client.post(
        f"{SEQUENCES}/{sequence['id']}/preview",
        json={"phone": phone, "start_at": SATURDAY, "name": "Grace Hopper"},
        headers=tenant.headers("agent"),
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["timezone"] == zone and preview["phone"] == phone
    first, wait, second = preview["steps"][:3]
    assert first["fire_at_utc"] == monday_9_utc
    assert datetime.fromisoformat(first["fire_at_local"]).strftime("%a %H:%M") == "Mon 09:00"
    assert first["waited_for_business_hours"] is True
    assert first["text"] == "Hi Grace, thanks for reaching out!"
    # Two calendar days later, inside business hours: Wednesday 09:00 local.
    assert datetime.fromisoformat(wait["until_local"]).strftime("%a %H:%M") == "Wed 09:00"
    assert datetime.fromisoformat(second["fire_at_local"]).strftime("%a %H:%M") == "Wed 09:00"
    assert preview["steps"][-1]["ends_enrollment"] is True


async def test_preview_of_a_lead_uses_its_fields_and_of_a_version_its_frozen_steps(
    client: httpx.AsyncClient, tenant, session_factory
) -> None:
    (lead_id,) = await insert_leads(session_factory, tenant, ["+442079460019"], name="Ada Lovelace")
    sequence = await create_sequence(client, tenant, publish=True)
    url = f"{SEQUENCES}/{sequence['id']}"
    await client.patch(
        url, json={"steps": [{"type": "send_whatsapp", "text": "Draft for {{name}}"}]}, headers=tenant.headers()
    )
    body = {"lead_id": str(lead_id), "start_at": "2026-12-07T10:00:00+00:00"}
    draft = (await client.post(f"{url}/preview", json=body, headers=tenant.headers("agent"))).json()
    assert draft["version"] is None and draft["lead_id"] == str(lead_id)
    assert [s["text"] for s in draft["steps"]] == ["Draft for Ada Lovelace"]
    assert draft["steps"][0]["fire_at_utc"] == "2026-12-07T10:00:00Z"  # Monday 10:00 London: at once

    v1 = (await client.post(f"{url}/preview", json={**body, "version": 1}, headers=tenant.headers("agent"))).json()
    assert v1["version"] == 1 and v1["steps"][0]["text"] == "Hi Ada, thanks for reaching out!"
    assert len(v1["steps"]) == 5


async def test_preview_refuses_bad_requests(client: httpx.AsyncClient, tenant) -> None:
    sequence = await create_sequence(client, tenant)
    url = f"{SEQUENCES}/{sequence['id']}/preview"
    headers = tenant.headers("agent")
    assert (await client.post(url, json={}, headers=headers)).status_code == 422
    both = {"phone": "+12025550143", "lead_id": str(uuid.uuid4())}
    assert (await client.post(url, json=both, headers=headers)).status_code == 422
    bad_phone = await client.post(url, json={"phone": "12"}, headers=headers)
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["message"]
    naive = await client.post(url, json={"phone": "+12025550143", "start_at": "2026-12-07T10:00:00"}, headers=headers)
    assert naive.status_code == 422
    # The end of time: a clear 422, not an overflow in the date arithmetic (was a 500).
    far = await client.post(url, json={"phone": "+12025550143", "start_at": "9999-12-30T09:00:00Z"}, headers=headers)
    assert far.status_code == 422 and "five years" in far.json()["message"], far.text
    # The start of time (its UTC instant is in year 0): the same, not an OverflowError.
    early = {"phone": "+12025550143", "start_at": "0001-01-01T00:00:00+01:00"}
    past = await client.post(url, json=early, headers=headers)
    assert past.status_code == 422 and "five years in the past" in past.json()["message"], past.text
    missing_lead = await client.post(url, json={"lead_id": str(uuid.uuid4())}, headers=headers)
    assert missing_lead.status_code == 404
    no_version = await client.post(url, json={"phone": "+12025550143", "version": 1}, headers=headers)
    assert no_version.status_code == 404


# Roles and isolation ------------------------------------------------------------------------------------------------


async def test_agents_read_but_do_not_write_sequences(client: httpx.AsyncClient, tenant) -> None:
    agent = tenant.headers("agent")
    assert (await client.post(SEQUENCES, json=definition_body(), headers=agent)).status_code == 403
    sequence = await create_sequence(client, tenant, role="admin")
    url = f"{SEQUENCES}/{sequence['id']}"
    assert (await client.get(url, headers=agent)).status_code == 200
    assert (await client.patch(url, json={"name": "x"}, headers=agent)).status_code == 403
    assert (await client.post(f"{url}/publish", headers=agent)).status_code == 403
    assert (await client.post(f"{url}/archive", headers=agent)).status_code == 403
    assert (await client.get(f"{url}/versions", headers=agent)).status_code == 200


SEQUENCE_ENDPOINTS = [
    ("GET", ""),
    ("PATCH", ""),
    ("POST", "/publish"),
    ("POST", "/archive"),
    ("GET", "/versions"),
    ("GET", "/versions/1"),
    ("POST", "/preview"),
    ("GET", "/stats"),
    ("GET", "/enrollments"),
    ("POST", "/enrollments"),
]


@pytest.mark.parametrize(
    ("method", "suffix"), SEQUENCE_ENDPOINTS, ids=[f"{m} {s or '/'}" for m, s in SEQUENCE_ENDPOINTS]
)
async def test_another_tenants_sequence_is_not_found(
    client: httpx.AsyncClient, tenant, make_tenant, method: str, suffix: str
) -> None:
    sequence = await create_sequence(client, tenant, publish=True)
    intruder = await make_tenant()
    posts = {"/preview": {"phone": "+12025550143"}, "/enrollments": {"lead_ids": [str(uuid.uuid4())]}}
    bodies = {"PATCH": {"name": "Stolen"}, "POST": posts.get(suffix)}
    response = await client.request(
        method, f"{SEQUENCES}/{sequence['id']}{suffix}", json=bodies.get(method), headers=intruder.headers("owner")
    )
    assert response.status_code == 404, response.text
    assert (await client.get(SEQUENCES, headers=intruder.headers("owner"))).json() == []
    mine = (await client.get(f"{SEQUENCES}/{sequence['id']}", headers=tenant.headers("owner"))).json()
    assert mine["name"] == sequence["name"] and mine["status"] == "active"

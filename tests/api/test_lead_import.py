"""CSV import: a file with good and bad rows stores exactly the good ones, reports each bad one by line and reason,
starts the imported leads' workflows, and refuses files it cannot read (not UTF-8, no phone column, too large)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.fixtures.jobs import finished_job
from workflows.ids import lead_workflow_id

# Every lead gets a real LeadWorkflow: the worker runs them.
pytestmark = pytest.mark.usefixtures("lead_worker")

LEADS = "/api/v1/leads"
IMPORT = "/api/v1/leads/import"


async def _upload(client: httpx.AsyncClient, tenant, content: bytes | str, role: str = "owner") -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    return await client.post(IMPORT, files={"file": ("leads.csv", data, "text/csv")}, headers=tenant.headers(role))


async def _all_leads(client: httpx.AsyncClient, tenant) -> list[dict]:
    response = await client.get(LEADS, params={"limit": 200}, headers=tenant.headers())
    assert response.status_code == 200
    return response.json()["items"]


@asynccontextmanager
async def _client_with(settings, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    """A client against an app whose settings differ (import limits) from the session's."""
    from api.app import create_app

    app = create_app(settings.model_copy(update=overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_mixed_file_imports_exactly_the_good_rows_and_reports_the_bad(client, tenant, temporal_client) -> None:
    existing = await client.post(
        LEADS, json={"phone": "+12025550699", "name": "Already here"}, headers=tenant.headers()
    )
    assert existing.status_code == 201
    agent_email = tenant.user_email("agent")
    csv_text = (
        "Phone,Name,Email,Status,Owner_Email,Company\n"  # line 1
        f"(202) 555-0601,Ann Able,ANN@example.com,,{agent_email.upper()},Acme\n"  # 2 good (owner, custom field)
        "12345,Bad Phone,,,,\n"  # 3 invalid phone
        "+44 20 7946 0018,Bob Brit,,contacted,,\n"  # 4 good (international, given status)
        "202-555-0601,Ann Again,,,,\n"  # 5 duplicate of line 2 in the file
        "202 555 0699,Dup Existing,,,,\n"  # 6 duplicate of an existing lead
        "+12025550603,Vip,,vip,,\n"  # 7 unknown status
        "+12025550604,Orphan,,,nobody@example.com,\n"  # 8 unknown owner
        "+12025550605,Bad Mail,not-an-email,,,\n"  # 9 bad e-mail
        "\n"  # 10 blank: not a row
        '+12025550606,"Carol\nMultiline",,,,Initech\n'  # 11-12 good, a quoted newline inside the name
        "garbage,Last,,,,\n"  # 13 invalid phone
    )
    response = await _upload(client, tenant, csv_text)
    assert response.status_code == 202, response.text
    report = response.json()

    assert report["imported"] == 3
    assert [(s["line"], s["field"], s["reason"]) for s in report["skipped"]] == [
        (3, "phone", "invalid phone '12345': too short"),
        (5, "phone", "duplicate of line 2 in this file (+12025550601)"),
        (6, "phone", "a lead with phone +12025550699 already exists"),
        (7, "status", "unknown status 'vip'"),
        (8, "owner_email", "unknown owner 'nobody@example.com': no user with this e-mail in this tenant"),
        (9, "email", "invalid email: 'not-an-email' is not an e-mail address"),
        (13, "phone", "invalid phone 'garbage': not a phone number"),
    ]
    assert report["skipped"][2]["existing_lead_id"] == existing.json()["id"]
    assert report["skipped"][0]["phone"] == "12345"
    assert [s["code"] for s in report["skipped"]] == [
        "invalid_phone",
        "duplicate_in_file",
        "duplicate_of_existing",
        "unknown_status",
        "unknown_owner",
        "invalid_email",
        "invalid_phone",
    ]

    job = await finished_job(client, tenant, response)
    assert (job["state"], job["kind"], job["created_by"]) == ("done", "lead_import", report["job"]["created_by"])
    assert (job["total"], job["started"], job["skipped"], job["failed"]) == (10, 3, 7, 0)
    assert job["skipped_by_reason"] == {
        "invalid_phone": 2,
        "duplicate_in_file": 1,
        "duplicate_of_existing": 1,
        "unknown_status": 1,
        "unknown_owner": 1,
        "invalid_email": 1,
    }
    assert [(item["line"], item["reason"]) for item in job["skipped_items"]][:2] == [
        (3, "invalid_phone"),
        (5, "duplicate_in_file"),
    ]
    assert job["skipped_items"][0]["message"] == "invalid phone '12345': too short"

    stored = {lead["phone"]: lead for lead in await _all_leads(client, tenant)}
    assert set(stored) == {"+12025550601", "+442079460018", "+12025550606", "+12025550699"}
    assert sorted(report["lead_ids"]) == sorted(
        stored[p]["id"] for p in ("+12025550601", "+442079460018", "+12025550606")
    )
    ann = stored["+12025550601"]
    assert ann["name"] == "Ann Able" and ann["email"] == "ann@example.com" and ann["source"] == "import"
    assert ann["owner_id"] == str(tenant.user_id("agent"))
    assert ann["custom_fields"] == {"company": "Acme"} and ann["status"] == "new"
    assert stored["+442079460018"]["status"] == "contacted"
    assert stored["+442079460018"]["timezone"] == "Europe/London"
    assert stored["+12025550606"]["name"] == "Carol\nMultiline"
    assert stored["+12025550699"]["name"] == "Already here"

    for lead_id in report["lead_ids"]:
        handle = temporal_client.get_workflow_handle(lead_workflow_id(tenant.slug, lead_id))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        timeline = (await client.get(f"{LEADS}/{lead_id}/timeline", headers=tenant.headers())).json()
        assert [event["kind"] for event in timeline] == ["created"]


async def test_leads_whose_workflow_could_not_start_are_listed_and_uploading_again_starts_them(
    settings, client, tenant, temporal_client
) -> None:
    csv_text = "phone,name\n+12025550680,One\n+12025550681,Two\n"
    async with _client_with(settings, temporal_address="127.0.0.1:1") as down:
        response = await _upload(down, tenant, csv_text)
    assert response.status_code == 202, response.text  # the rows are saved: the job waits for the sweeper
    report = response.json()
    assert report["imported"] == 2
    queued = await client.get(report["job"]["url"], headers=tenant.headers())
    assert (queued.json()["state"], queued.json()["started"]) == ("queued", 0)

    # A create for the phone is another request, not the import's retry: it must not take over the imported lead.
    create = await client.post(LEADS, json={"phone": "+12025550680", "name": "Other"}, headers=tenant.headers())
    assert create.status_code == 409 and create.json()["details"]["lead_id"] == report["lead_ids"][0], create.text
    assert (await client.get(f"{LEADS}/{report['lead_ids'][0]}", headers=tenant.headers())).json()["name"] == "One"

    again = await _upload(client, tenant, csv_text)
    job = await finished_job(client, tenant, again)
    # The same file again: both rows are duplicates (skipped), and their never-started workflows start.
    assert (job["total"], job["started"], job["skipped"], job["skipped_by_reason"]) == (
        2,
        0,
        2,
        {"duplicate_of_existing": 2},
    )
    for lead_id in report["lead_ids"]:
        handle = temporal_client.get_workflow_handle(lead_workflow_id(tenant.slug, lead_id))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_importing_the_same_file_twice_imports_nothing_the_second_time(client, tenant) -> None:
    csv_text = "phone,name\n+12025550610,One\n+12025550611,Two\n"
    first = await _upload(client, tenant, csv_text)
    assert first.json()["imported"] == 2
    await finished_job(client, tenant, first)
    second = (await _upload(client, tenant, csv_text)).json()
    assert second["imported"] == 0 and second["lead_ids"] == []
    assert [(s["line"], s["existing_lead_id"]) for s in second["skipped"]] == list(
        zip([2, 3], first.json()["lead_ids"], strict=True)
    )
    assert len(await _all_leads(client, tenant)) == 2


async def test_a_utf8_bom_and_column_case_are_accepted(client, tenant) -> None:
    response = await _upload(client, tenant, "\ufeffPHONE ,Name\n+12025550620,Zoë Ünal\n".encode())
    assert response.status_code == 202, response.text
    assert response.json()["imported"] == 1
    assert (await _all_leads(client, tenant))[0]["name"] == "Zoë Ünal"


async def test_a_row_with_more_values_than_columns_is_reported(client, tenant) -> None:
    response = await _upload(client, tenant, "phone,name\n+12025550630,A,extra\n+12025550631,B\n")
    assert response.status_code == 202
    assert response.json()["imported"] == 1
    assert response.json()["skipped"] == [
        {
            "line": 2,
            "code": "too_many_values",
            "reason": "3 values but the header has 2 columns",
            "field": None,
            "phone": None,
            "existing_lead_id": None,
        }
    ]


async def test_a_row_with_a_nul_character_is_reported_and_the_others_imported(client, tenant) -> None:
    content = "phone,name,plan\n+12025550632,Ada\x00Lovelace,\n+12025550633,Grace,pro\x00\n+12025550634,Alan,\n"
    response = await _upload(client, tenant, content)
    assert response.status_code == 202, response.text
    assert response.json()["imported"] == 1
    skipped = response.json()["skipped"]
    assert [(s["line"], s["field"], s["phone"]) for s in skipped] == [
        (2, "name", "+12025550632"),
        (3, "plan", "+12025550633"),
    ]
    assert all("NUL" in s["reason"] and s["code"] == "nul_character" for s in skipped)
    assert [lead["name"] for lead in await _all_leads(client, tenant)] == ["Alan"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name,email\nAda,ada@example.com\n", "no 'phone' column"),
        ("", "empty"),
        ("phone,name,phone\n+12025550640,A,B\n", "repeats the column"),
        ("phone,,name\n+12025550641,x,A\n", "empty column name"),
        ("phone,na\x00me\n+12025550643,A\n", "NUL character"),
        ("phone,name\n+12025550642,Jos\xe9\n".encode("latin-1"), "not UTF-8 (first bad byte on line 2)"),
    ],
    ids=["no-phone-column", "empty", "repeated-column", "unnamed-column", "nul-in-header", "latin-1"],
)
async def test_unreadable_files_are_422_and_import_nothing(client, tenant, content, needle: str) -> None:
    response = await _upload(client, tenant, content)
    assert response.status_code == 422, response.text
    assert needle in response.json()["message"]
    assert await _all_leads(client, tenant) == []


async def test_a_missing_file_field_is_422(client, tenant) -> None:
    response = await client.post(IMPORT, headers=tenant.headers())
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "file"


async def test_files_over_the_limits_are_413_and_import_nothing(settings, tenant, client) -> None:
    rows = "".join(f"+1202555{700 + n:04d},Lead {n}\n" for n in range(4))
    async with _client_with(settings, lead_import_max_rows=3) as limited:
        too_many = await _upload(limited, tenant, "phone,name\n" + rows)
    assert too_many.status_code == 413
    assert "more than 3 rows" in too_many.json()["message"]

    async with _client_with(settings, lead_import_max_bytes=1024) as limited:
        too_big = await _upload(limited, tenant, "phone,name\n" + "+12025550750," + "x" * 2000 + "\n")
    assert too_big.status_code == 413
    assert "larger than 1024 bytes" in too_big.json()["message"]
    assert await _all_leads(client, tenant) == []


async def test_agents_may_not_import(client, tenant) -> None:
    response = await _upload(client, tenant, "phone\n+12025550760\n", role="agent")
    assert response.status_code == 403
    assert await _all_leads(client, tenant) == []


async def test_many_rows_start_every_workflow(client, tenant, temporal_client) -> None:
    rows = "".join(f"+1202555{800 + n:04d},Bulk {n}\n" for n in range(60))
    accepted = await _upload(client, tenant, "phone,name\n" + rows)
    report = accepted.json()
    assert report["imported"] == 60
    job = await finished_job(client, tenant, accepted)
    assert (job["state"], job["total"], job["started"], job["skipped"], job["failed"]) == ("done", 60, 60, 0, 0)
    listed = await _all_leads(client, tenant)
    assert len(listed) == 60
    for lead_id in report["lead_ids"][::15]:
        handle = temporal_client.get_workflow_handle(lead_workflow_id(tenant.slug, lead_id))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

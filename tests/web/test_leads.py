"""In Chromium: create a lead, import a CSV with its per-row report, search, change a status (the workflow's refusal
shown, then an allowed change on the timeline), pause / resume / stop an enrollment; tenant B never sees tenant A's
leads."""

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.crm import MakeTenant, TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.sequences import QUIET_STEPS, SEQUENCES, create_sequence, eventually, insert_leads, us_phones
from tests.fixtures.web import MakePage, log_in, screenshot

pytestmark = pytest.mark.usefixtures("lead_worker")


async def test_create_import_search_and_change_status(
    web_page: MakePage, tenant: TenantContext, make_tenant: MakeTenant
) -> None:
    page = await web_page()
    await page.goto("/leads")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    created_phone = unique_phone()
    form = page.get_by_role("form", name="New lead")
    await form.get_by_label("Phone").fill(created_phone)
    await form.get_by_label("Name").fill("Ada Example")
    await form.get_by_role("button", name="Create lead").click()
    await expect(page.get_by_role("heading", name="Ada Example")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/leads/[0-9a-f-]{36}$"))
    lead_url = page.url
    digits = created_phone.removeprefix("+1")
    await expect(page.get_by_text(f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}")).to_be_visible()

    status = page.get_by_role("form", name="Change status")
    await status.get_by_label("New status").select_option("won")
    await status.get_by_role("button", name="Change status").click()
    await expect(status.get_by_role("alert")).to_contain_text("cannot move to stage 'won'")
    await screenshot(page, "lead-status-refused")
    await status.get_by_label("New status").select_option("contacted")
    await status.get_by_role("button", name="Change status").click()
    await expect(page.get_by_test_id("lead-status")).to_have_text("contacted")
    await expect(page.get_by_role("region", name="Timeline")).to_contain_text("status changed")

    await page.goto("/leads")
    imported_phone = unique_phone()
    csv = f"phone,name\n{imported_phone},Grace Imported\nnot-a-phone,Broken Row\n"
    importer = page.get_by_role("form", name="Import leads")
    await importer.get_by_label(re.compile("CSV file")).set_input_files(
        files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    await importer.get_by_role("button", name="Import").click()
    report = importer.get_by_role("status")
    await expect(report).to_contain_text("1 imported, 1 skipped")
    await expect(report).to_contain_text("Line 3:")
    await screenshot(page, "leads-import-report")
    await page.get_by_label("Search").fill("Grace Imported")
    await expect(page.get_by_role("link", name="Grace Imported")).to_be_visible()
    await expect(page.get_by_role("link", name="Ada Example")).to_have_count(0)

    other = await make_tenant()
    stranger = await web_page()
    await stranger.goto("/leads")
    await log_in(stranger, other.owner.email, other.owner.password)
    await expect(stranger.get_by_text("No leads match.")).to_be_visible()
    await stranger.goto(lead_url)
    await expect(stranger.get_by_role("alert")).to_contain_text("No such lead")
    await screenshot(stranger, "lead-of-another-tenant")
    # Not an id at all reads the same, not as the API's validation of the path.
    await stranger.goto("/leads/not-a-uuid")
    await expect(stranger.get_by_role("alert")).to_contain_text("No such lead")
    await expect(stranger.get_by_role("alert")).not_to_contain_text("UUID")


async def test_an_enrollment_is_paused_resumed_and_stopped_from_the_lead_page(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/leads", json={"phone": unique_phone(), "name": "Quiet Lead"}, headers=tenant.headers()
    )
    lead_id = created.json()["id"]
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    enrolled = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": [lead_id]}, headers=tenant.headers()
    )
    (enrollment_id,) = enrolled.json()["enrollment_ids"]

    async def running() -> bool | None:
        view = (await client.get(f"/api/v1/enrollments/{enrollment_id}", headers=tenant.headers())).json()
        return True if view.get("source") == "workflow" and view.get("current_step_id") == "first_wait" else None

    await eventually(running, within=60, what="the enrollment's first wait")
    page = await web_page()
    await page.goto(f"/leads/{lead_id}")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    enrollment = page.get_by_test_id("enrollment")
    await expect(enrollment).to_contain_text(sequence["name"])
    enrolled = page.get_by_test_id("timeline-event").filter(has_text="sequence enrolled")
    await expect(enrolled).to_contain_text(f"API key “owner key” · “{sequence['name']}” v1")
    await expect(enrollment.locator(".enrollment-status")).to_have_text("active")
    await enrollment.get_by_role("button", name="Pause").click()
    await expect(enrollment.locator(".enrollment-status")).to_have_text("paused")
    await enrollment.get_by_role("button", name="Resume").click()
    await expect(enrollment.locator(".enrollment-status")).to_have_text("active")
    await enrollment.get_by_role("button", name="Stop").click()
    await expect(enrollment.locator(".enrollment-status")).to_have_text("stopped")
    await expect(enrollment.get_by_role("button")).to_have_count(0)
    await screenshot(page, "lead-enrollment-stopped")


async def test_an_owner_assigns_a_lead_and_the_agent_filters_their_own(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    names = []
    for name in ("Filter Mine", "Filter Theirs"):
        created = await client.post(
            "/api/v1/leads", json={"phone": unique_phone(), "name": name}, headers=tenant.headers()
        )
        assert created.status_code == 201, created.text
        names.append(created.json()["id"])
    owner = await web_page()
    # No live stream: the page's own change must refresh its timeline by itself (a reconnecting stream refetches
    # everything, which would hide a missing refresh).
    await owner.route("**/api/v1/events*", lambda route: route.abort())
    await owner.goto(f"/leads/{names[0]}")
    await log_in(owner, tenant.owner.email, tenant.owner.password)
    await expect(owner.get_by_test_id("timeline-event")).to_have_text([re.compile("^created")])
    await owner.get_by_label("Owner").select_option(str(tenant.agent.id))
    await expect(owner.get_by_label("Owner")).to_have_value(str(tenant.agent.id))
    # The change shows at once, by name (the owner has none: their e-mail) and naming what changed.
    updated = owner.get_by_test_id("timeline-event").filter(has_text="updated")
    await expect(updated).to_contain_text(f"{tenant.owner.email} · owner")
    await expect(owner.get_by_role("region", name="Timeline")).not_to_contain_text("user:")

    agent = await web_page()
    await agent.goto("/leads")
    await log_in(agent, tenant.agent.email, tenant.agent.password)
    await expect(agent.get_by_role("link", name="Filter Theirs")).to_be_visible()
    await agent.get_by_label("Mine only").check()
    await expect(agent.get_by_role("link", name="Filter Mine")).to_be_visible()
    await expect(agent.get_by_role("link", name="Filter Theirs")).to_have_count(0)
    await agent.get_by_role("link", name="Filter Mine").click()
    await expect(agent.locator("dd").filter(has_text="you")).to_have_count(1)
    # An agent may not list the tenant's people, yet sees who changed the lead.
    await expect(agent.get_by_test_id("timeline-event").filter(has_text="updated")).to_contain_text(tenant.owner.email)


async def test_an_agent_sees_the_name_of_a_leads_owner(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    renamed = await client.patch(
        f"/api/v1/users/{tenant.owner.id}", json={"full_name": "Olga Owner"}, headers=tenant.headers()
    )
    assert renamed.status_code == 200, renamed.text
    created = await client.post(
        "/api/v1/leads",
        json={"phone": unique_phone(), "name": "Owned Elsewhere", "owner_id": str(tenant.owner.id)},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    page = await web_page()
    await page.goto(f"/leads/{created.json()['id']}")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    owner = page.get_by_test_id("lead-owner")
    await expect(owner).to_have_text("Olga Owner")
    # A status change answers the lead without its owner's name: the page keeps the name it has.
    status = page.get_by_role("form", name="Change status")
    await status.get_by_label("New status").select_option("contacted")
    await status.get_by_role("button", name="Change status").click()
    await expect(page.get_by_test_id("lead-status")).to_have_text("contacted")
    await expect(owner).to_have_text("Olga Owner")
    await screenshot(page, "lead-owner-name-for-agent")


async def test_the_lists_search_filter_and_page_survive_back_forward_and_reload(
    web_page: MakePage, tenant: TenantContext, session_factory
) -> None:  # type: ignore[no-untyped-def]
    await insert_leads(session_factory, tenant, us_phones(30), name="Paging Lead")
    page = await web_page()
    await page.goto("/leads")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    # Typed key by key: each keystroke rewrites the address, and none may be lost on the way.
    await page.get_by_label("Search").press_sequentially("Paging Lead")
    await expect(page.get_by_label("Search")).to_have_value("Paging Lead")
    await page.get_by_label("Status").select_option("new")
    rows = page.get_by_role("link", name="Paging Lead")
    await expect(rows).to_have_count(25)
    await page.get_by_role("button", name="Next").click()
    await expect(rows).to_have_count(5)
    await expect(page).to_have_url(re.compile(r"/leads\?q=Paging\+Lead&status=new&cursor="))

    async def on_the_second_page() -> None:
        await expect(page.get_by_label("Search")).to_have_value("Paging Lead")
        await expect(page.get_by_label("Status")).to_have_value("new")
        await expect(rows).to_have_count(5)

    await rows.first.click()
    await expect(page).to_have_url(re.compile(r"/leads/[0-9a-f-]{36}$"))
    await page.go_back()
    await on_the_second_page()
    await page.reload()
    await on_the_second_page()
    await screenshot(page, "leads-second-page-after-reload")
    await page.get_by_role("button", name="Previous").click()
    await expect(rows).to_have_count(25)
    await expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    await page.go_back()
    await on_the_second_page()
    await page.go_forward()
    await expect(rows).to_have_count(25)
    await expect(page.get_by_label("Search")).to_have_value("Paging Lead")
    # "Leads" in the navigation is a fresh list, as its address says, though the list stays on screen.
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Leads").click()
    await expect(page).to_have_url(re.compile(r"/leads$"))
    await expect(page.get_by_label("Search")).to_have_value("")
    await expect(page.get_by_label("Status")).to_have_value("")

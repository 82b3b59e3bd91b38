"""In Chromium: build a sequence, see the API's validation errors on the steps they concern, fix them, publish,
preview it for a sample lead (the workflow's own scheduling), enroll two leads of which one is skipped with its
reason; the sequence's own settings (exit rules, business hours, caps) are checked by the API and saved."""

import re

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import QUIET_STEPS, SEQUENCES, create_sequence, insert_leads, us_phones
from tests.fixtures.web import MakePage, log_in, screenshot

pytestmark = pytest.mark.usefixtures("lead_worker")


async def test_build_fix_preview_publish_and_enroll(web_page: MakePage, tenant: TenantContext, session_factory) -> None:  # type: ignore[no-untyped-def]
    phones = us_phones(2)
    await insert_leads(session_factory, tenant, phones[:1], name="Bulk Ada")
    await insert_leads(session_factory, tenant, phones[1:], name="Bulk Bob", status="lost", stage="lost")

    page = await web_page()
    await page.goto("/sequences")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    await page.get_by_role("link", name="New sequence").click()
    builder = page.get_by_role("form", name="Sequence builder")
    await builder.get_by_role("textbox", name="Name", exact=True).fill("Welcome flow")
    first = builder.get_by_role("listitem", name="Step 1")
    await first.get_by_role("textbox", name="Message").fill("Hi {{frist_name}}, thanks for writing!")
    await builder.get_by_label("Add a step").select_option("wait")
    await builder.get_by_role("button", name="Add step").click()
    second = builder.get_by_role("listitem", name="Step 2")
    await second.get_by_label(re.compile("^Duration")).fill("two days")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(first.get_by_role("alert")).to_contain_text("{{frist_name}}")
    await expect(second.get_by_role("alert")).to_contain_text("two days")
    # Above the steps, a count rather than the problems again (or a summary cut short with "(and 1 more)").
    summary = builder.locator(".error > p")
    await expect(summary).to_have_text("Not saved: the sequence has 2 problems, each shown where it applies.")
    await screenshot(page, "sequence-validation-errors")

    await first.get_by_role("textbox", name="Message").fill("Hi {{first_name}}, thanks for writing!")
    await second.get_by_label(re.compile("^Duration")).fill("P2D")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(page).to_have_url(re.compile(r"/sequences/[0-9a-f-]{36}$"))
    await expect(page.get_by_test_id("sequence-version")).to_contain_text("never published")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_test_id("sequence-version")).to_contain_text("version 1")

    preview = page.get_by_role("region", name="Preview")
    await preview.get_by_label("Sample phone").fill("+14155550123")
    await preview.get_by_role("button", name="Preview").click()
    timeline = preview.get_by_role("list", name="Preview timeline")
    await expect(timeline.get_by_role("listitem")).to_have_count(2)
    await expect(timeline).to_contain_text("Hi Alex, thanks for writing!")
    await expect(preview).to_contain_text("America/Los_Angeles")

    enroll = page.get_by_role("region", name="Enroll leads")
    await enroll.get_by_label("Find leads").fill("Bulk")
    await enroll.get_by_role("checkbox", name=re.compile("Bulk Ada")).check()
    await enroll.get_by_role("checkbox", name=re.compile("Bulk Bob")).check()
    await enroll.get_by_role("button", name="Enroll 2 leads").click()
    report = enroll.get_by_role("status")
    await expect(report).to_contain_text("1 enrolled in version 1, 1 skipped.")
    await expect(report).to_contain_text("Bulk Bob: won, lost or opted out already")
    await screenshot(page, "sequence-enrolled")


async def test_a_task_steps_assignee_is_checked_and_a_wait_can_end_in_business_hours(
    web_page: MakePage, tenant: TenantContext
) -> None:
    page = await web_page()
    await page.goto("/sequences/new")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    builder = page.get_by_role("form", name="Sequence builder")
    await builder.get_by_role("textbox", name="Name", exact=True).fill("Call flow")
    first = builder.get_by_role("listitem", name="Step 1")
    await first.get_by_label("Type").select_option("wait")
    await first.get_by_label("End within business hours").check()
    await builder.get_by_label("Add a step").select_option("task")
    await builder.get_by_role("button", name="Add step").click()
    task = builder.get_by_role("listitem", name="Step 2")
    await task.get_by_label("Task title").fill("Call {{first_name}}")
    await task.get_by_label(re.compile("^Assignee")).fill("somebody")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(task.get_by_role("alert")).to_contain_text("not an active user")
    await expect(first.get_by_role("alert")).to_have_count(0)
    await task.get_by_label(re.compile("^Assignee")).fill("lead_owner")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(page).to_have_url(re.compile(r"/sequences/[0-9a-f-]{36}$"))
    await expect(page.get_by_label("End within business hours")).to_be_checked()


async def test_an_ai_message_step_is_built_checked_and_previewed_with_its_instructions_and_fallback(
    web_page: MakePage, tenant: TenantContext
) -> None:
    page = await web_page()
    await page.goto("/sequences/new")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    builder = page.get_by_role("form", name="Sequence builder")
    await builder.get_by_role("textbox", name="Name", exact=True).fill("AI nudge")
    step = builder.get_by_role("listitem", name="Step 1")
    await step.get_by_label("Type").select_option("ai_message")
    await step.get_by_label("Instructions for the AI agent").fill("Ask {{first_name}} if the offer still interests")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(step.get_by_role("alert")).to_contain_text("fallback_text")  # the API's 422, on the step

    await step.get_by_label(re.compile("^Fallback text")).fill("Hi {{first_name}}, still interested?")
    await step.get_by_label("A person approves it before it goes out").check()
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(page).to_have_url(re.compile(r"/sequences/[0-9a-f-]{36}$"))
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_test_id("sequence-version")).to_contain_text("version 1")

    preview = page.get_by_role("region", name="Preview")
    await preview.get_by_label("Sample phone").fill("+14155550123")
    await preview.get_by_role("button", name="Preview").click()
    timeline = preview.get_by_role("list", name="Preview timeline")
    await expect(timeline).to_contain_text("AI instructions “Ask Alex if the offer still interests”")
    await expect(timeline).to_contain_text("fallback “Hi Alex, still interested?” (approved by a person)")
    await screenshot(page, "sequence-ai-message-preview")


async def test_the_sequences_own_settings_are_checked_and_saved(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    page = await web_page()
    await page.goto("/sequences/new")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    builder = page.get_by_role("form", name="Sequence builder")
    await builder.get_by_role("textbox", name="Name", exact=True).fill("Weekend flow")
    await (
        builder.get_by_role("listitem", name="Step 1").get_by_role("textbox", name="Message").fill("Hi {{first_name}}!")
    )
    settings = builder.get_by_role("group", name="Sequence settings")
    await settings.get_by_label("End when the lead replies").uncheck()
    days = settings.get_by_role("group", name="Business days")
    await days.get_by_label("fri").uncheck()
    await days.get_by_label("sat").check()
    await settings.get_by_label("From").fill("10:00")
    await settings.get_by_label("Until").fill("09:30")
    await settings.get_by_label(re.compile("WhatsApp sends per day")).fill("50")
    await builder.get_by_role("button", name="Create sequence").click()
    problems = settings.get_by_role("list", name="Problems with the settings")
    await expect(problems).to_contain_text("settings.business_hours")
    await screenshot(page, "sequence-settings-error")

    await settings.get_by_label("Until").fill("16:00")
    await builder.get_by_role("button", name="Create sequence").click()
    await expect(page).to_have_url(re.compile(r"/sequences/[0-9a-f-]{36}$"))
    sequence_id = page.url.rsplit("/", 1)[1]
    saved = (await client.get(f"/api/v1/sequences/{sequence_id}", headers=tenant.headers())).json()["settings"]
    assert saved["exit_on_reply"] is False
    assert saved["business_hours"] == {"days": ["mon", "tue", "wed", "thu", "sat"], "start": "10:00", "end": "16:00"}
    assert saved["daily_cap"]["whatsapp"] == 50
    # The saved draft opens with its settings.
    reopened = page.get_by_role("group", name="Sequence settings")
    await expect(reopened.get_by_label(re.compile("WhatsApp sends per day"))).to_have_value("50")
    await expect(reopened.get_by_role("group", name="Business days").get_by_label("sat")).to_be_checked()


async def test_saving_a_draft_says_so_and_keeps_saying_it(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    sequence = await create_sequence(client, tenant)
    page = await web_page()
    await page.goto(f"/sequences/{sequence['id']}")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    builder = page.get_by_role("form", name="Sequence builder")
    await builder.get_by_role("textbox", name="Name", exact=True).fill("Renamed draft")
    await builder.get_by_role("button", name="Save draft").click()
    saved = builder.get_by_role("status")
    await expect(saved).to_have_text("Draft saved.")
    # The builder now shows the draft as the API stored it.
    await expect(builder.get_by_role("textbox", name="Name", exact=True)).to_have_value("Renamed draft")
    await page.wait_for_timeout(1_500)  # the builder re-reads the stored draft: the confirmation must outlive that
    await expect(saved).to_have_text("Draft saved.")
    stored = (await client.get(f"{SEQUENCES}/{sequence['id']}", headers=tenant.headers())).json()
    assert stored["name"] == "Renamed draft"
    await screenshot(page, "sequence-draft-saved")


async def test_every_lead_a_search_matches_can_be_enrolled(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sequence = await create_sequence(client, tenant, publish=True, steps=QUIET_STEPS)
    await insert_leads(session_factory, tenant, us_phones(31), name="Picker Lead")
    page = await web_page()
    await page.goto(f"/sequences/{sequence['id']}")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    enroll = page.get_by_role("region", name="Enroll leads")
    await enroll.get_by_label("Find leads").fill("Picker")
    found = enroll.get_by_role("list", name="Leads found").get_by_role("checkbox")
    await expect(found).to_have_count(25)
    await found.first.check()
    await enroll.get_by_role("button", name="Next").click()
    await expect(found).to_have_count(6)  # the matches past the first page can be reached and ticked
    await found.last.check()
    await enroll.get_by_role("button", name="Previous").click()
    await expect(found.first).to_be_checked()  # ticks are kept across pages
    await enroll.get_by_role("button", name="Enroll 2 leads").click()
    report = enroll.get_by_role("status")
    await expect(report).to_contain_text("2 enrolled in version 1, 0 skipped.")

    await enroll.get_by_role("button", name="Enroll every lead matching “Picker”").click()
    await expect(report).to_contain_text("29 enrolled in version 1, 2 skipped.")
    await expect(report).to_contain_text("Picker Lead: already enrolled in this sequence")
    await screenshot(page, "sequence-enroll-every-match")
    listed = await client.get(f"{SEQUENCES}/{sequence['id']}/enrollments", headers=tenant.headers())
    assert len(listed.json()) == 31

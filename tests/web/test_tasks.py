"""In Chromium: an agent works their task queue; completing a task advances the waiting sequence, visible on the
lead's page."""

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import (
    SEQUENCES,
    TASK_STEPS,
    create_sequence,
    enroll_in_task_sequence,
    insert_leads,
    us_phones,
)
from tests.fixtures.web import MakePage, log_in, screenshot

pytestmark = pytest.mark.usefixtures("lead_worker")


async def test_completing_a_task_in_the_queue_advances_the_enrollment(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    await enroll_in_task_sequence(client, tenant, session_factory, count=2)

    page = await web_page()
    await page.goto("/tasks")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    # The tasks appear as the enrollments' workflows create them (a live event refreshes the list).
    await expect(page.get_by_test_id("task")).to_have_count(2, timeout=60_000)
    for row in await page.get_by_test_id("task").all():
        await expect(row.get_by_role("link", name="Grace Hopper")).to_be_visible()
    await page.get_by_role("button", name="Work the queue").click()
    queue = page.get_by_role("region", name="Work the queue")
    await expect(queue).to_contain_text("2 left")
    await expect(queue.get_by_role("heading", name="Call Grace Hopper")).to_be_visible()
    await screenshot(page, "tasks-work-the-queue")
    lead_link = queue.get_by_role("link", name="Grace Hopper")
    first_lead = await lead_link.get_attribute("href")
    await queue.get_by_label("Outcome").fill("meeting booked")
    await queue.get_by_label("Note").fill("Booked a demo for Friday")
    await queue.get_by_role("button", name="Complete").click()
    await expect(queue).to_contain_text("1 left")
    await queue.get_by_role("button", name="Skip").click()
    await expect(queue).to_contain_text("The queue is empty")

    assert first_lead is not None
    await page.goto(first_lead)
    enrollment = page.get_by_test_id("enrollment")
    await expect(enrollment).to_contain_text("step after_call", timeout=30_000)
    tasks = page.get_by_role("region", name="Tasks")
    await expect(tasks).to_contain_text("No open task of yours.")
    done = tasks.get_by_test_id("closed-task")
    await expect(done).to_contain_text("completed · meeting booked")
    await expect(done).to_contain_text("Booked a demo for Friday")
    await screenshot(page, "lead-after-task")


async def test_each_task_in_the_list_names_its_lead_or_its_phone(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    sequence = await create_sequence(client, tenant, publish=True, steps=TASK_STEPS)
    named, unnamed = us_phones(2)
    leads = [
        *await insert_leads(session_factory, tenant, [named], name="Linus Torvalds", owner_id=tenant.agent.id),
        *await insert_leads(session_factory, tenant, [unnamed], name="", owner_id=tenant.agent.id),
    ]
    enrolled = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments",
        json={"lead_ids": [str(lead) for lead in leads]},
        headers=tenant.headers(),
    )
    assert enrolled.status_code == 202, enrolled.text

    page = await web_page()
    await page.goto("/tasks")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    rows = page.get_by_test_id("task")
    await expect(rows).to_have_count(2, timeout=60_000)
    await expect(rows.get_by_role("link", name="Linus Torvalds")).to_have_attribute("href", f"/leads/{leads[0]}")
    shown = f"+1 ({unnamed[2:5]}) {unnamed[5:8]}-{unnamed[8:]}"  # as the app lays a US number out
    await expect(rows.get_by_role("link", name=shown)).to_have_attribute("href", f"/leads/{leads[1]}")
    await expect(rows.get_by_role("link", name="open lead")).to_have_count(0)
    await screenshot(page, "tasks-name-their-leads")

"""In Chromium: an agent works their task queue; completing a task advances the waiting sequence, visible on the
lead's page."""

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import enroll_in_task_sequence
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

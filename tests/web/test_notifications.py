"""In Chromium: a task a sequence assigns arrives live as a toast and on the bell's count; marking all read clears
it."""

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import enroll_in_task_sequence
from tests.fixtures.web import MakePage, log_in, screenshot

pytestmark = pytest.mark.usefixtures("lead_worker")


async def test_a_new_task_arrives_live_on_the_bell(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    page = await web_page()
    await page.goto("/tasks")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    await expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()

    await enroll_in_task_sequence(client, tenant, session_factory, count=1)
    await expect(page.get_by_role("status").filter(has_text="New task: Call Grace Hopper")).to_be_visible(
        timeout=60_000
    )
    await expect(page.get_by_test_id("notifications-unread")).to_have_text("1")
    await expect(page.get_by_test_id("task")).to_have_count(1)  # the task list refreshed too
    await page.get_by_role("button", name="Notifications, 1 unread").click()
    panel = page.get_by_role("dialog", name="Notifications")
    await expect(panel.get_by_role("link", name="New task: Call Grace Hopper")).to_be_visible()
    await screenshot(page, "notifications-bell")
    await panel.get_by_role("button", name="Mark all read").click()
    await expect(page.get_by_test_id("notifications-unread")).to_have_count(0)

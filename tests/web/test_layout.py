"""In Chromium at a phone's width (390 px): the main pages fit the screen (nothing scrolls sideways but a table inside
its own box), the top bar wraps with the person's name on one line, and the inbox is one column, the list then the
thread."""

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.web import MakePage, log_in, screenshot
from tests.fixtures.whatsapp import add_lead, add_message

pytestmark = pytest.mark.usefixtures("lead_worker")

PHONE = {"width": 390, "height": 844}


async def _page_width(page: Page) -> int:
    return int(await page.evaluate("document.scrollingElement.scrollWidth"))


async def test_the_main_pages_fit_a_phone(web_page: MakePage, tenant: TenantContext, session_factory) -> None:  # type: ignore[no-untyped-def]
    lead_id = await add_lead(session_factory, tenant.tenant_id, phone=unique_phone(), name="Maximiliana Wolkenstein")
    await add_message(
        session_factory, tenant.tenant_id, lead_id, body="Hello! Is the two-bedroom flat on Elm Street still free?"
    )
    page = await web_page()
    await page.set_viewport_size(PHONE)
    await page.goto("/leads")
    await log_in(page, tenant.owner.email, tenant.owner.password)

    await expect(page.get_by_role("link", name="Maximiliana Wolkenstein")).to_be_visible()
    await screenshot(page, "phone-leads")
    assert await _page_width(page) <= PHONE["width"]
    # The person's name and tenant stay on one line, cut short rather than broken word by word.
    who = await page.get_by_test_id("who").bounding_box()
    assert who is not None and who["height"] < 30, who

    await page.goto("/inbox")
    await expect(page.get_by_test_id("conversation")).to_have_count(1)
    await screenshot(page, "phone-inbox")
    assert await _page_width(page) <= PHONE["width"]

    await page.get_by_test_id("conversation").click()
    thread = page.get_by_role("region", name="Conversation", exact=True)
    await expect(thread).to_contain_text("Elm Street")
    await screenshot(page, "phone-inbox-thread")
    assert await _page_width(page) <= PHONE["width"]
    conversations = await page.get_by_role("region", name="Conversations").bounding_box()
    opened = await thread.bounding_box()
    assert conversations is not None and opened is not None
    assert opened["y"] >= conversations["y"] + conversations["height"], (conversations, opened)  # below the list

    await page.goto(f"/leads/{lead_id}")
    await expect(page.get_by_role("heading", name="Maximiliana Wolkenstein")).to_be_visible()
    await expect(page.get_by_role("region", name="Conversation", exact=True)).to_contain_text("Elm Street")
    await screenshot(page, "phone-lead")
    assert await _page_width(page) <= PHONE["width"]

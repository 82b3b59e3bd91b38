"""In Chromium: the login page and the page of a lead without a conversation load without an error in the console
and without an error status from the API (each used to log one: a 401 from /auth/me, a 404 from the conversation)."""

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.web import MakePage, log_in

pytestmark = pytest.mark.usefixtures("lead_worker")


def _record_errors(page: Page) -> list[str]:
    """Every console error and every answer of 400 or more the page gets from now on."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on(
        "response",
        lambda response: errors.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    return errors


async def test_the_login_page_and_a_lead_without_a_conversation_log_no_error(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/api/v1/leads", json={"phone": unique_phone(), "name": "Quiet Quinn"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    page = await web_page()
    errors = _record_errors(page)
    await page.goto(f"/leads/{created.json()['id']}")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert errors == []

    await log_in(page, tenant.agent.email, tenant.agent.password)
    await expect(page.get_by_role("heading", name="Quiet Quinn")).to_be_visible()
    await expect(page.get_by_text("No WhatsApp conversation yet.")).to_be_visible()
    await expect(page.get_by_role("region", name="Timeline")).to_contain_text("created")
    assert errors == []

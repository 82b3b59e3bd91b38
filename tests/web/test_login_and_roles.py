"""In Chromium: logging in as each role shows only the sections that role may use; an ended session goes back to
the login and then to where the person was; the API's refusal of a deactivated account is shown as it is."""

import re

from playwright.async_api import expect

from tests.fixtures.crm import MakeTenant, SystemAdminContext, TenantContext
from tests.fixtures.web import MakePage, log_in, screenshot

SECTIONS = ["Inbox", "Leads", "Tasks", "Sequences", "Settings", "Tenants"]
VISIBLE = {
    "owner": ["Inbox", "Leads", "Tasks", "Sequences", "Settings"],
    "admin": ["Inbox", "Leads", "Tasks", "Sequences", "Settings"],
    "agent": ["Inbox", "Leads", "Tasks"],
    "system_admin": ["Tenants"],
}


async def test_each_role_sees_only_the_sections_it_may_use(
    web_page: MakePage, tenant: TenantContext, system_admin: SystemAdminContext
) -> None:
    logins = {role: (tenant.users[role].email, tenant.users[role].password) for role in ("owner", "admin", "agent")}
    logins["system_admin"] = (system_admin.email, system_admin.password)
    for role, (email, password) in logins.items():
        page = await web_page()
        await page.goto("/")
        await expect(page).to_have_url(re.compile(r"/login\?next="))
        await log_in(page, email, password)
        nav = page.get_by_role("navigation", name="Sections")
        await expect(nav.get_by_role("link")).to_have_text(VISIBLE[role])
        await expect(page.get_by_test_id("who")).to_contain_text(role)
        for hidden in set(SECTIONS) - set(VISIBLE[role]):
            await expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
        await screenshot(page, f"home-{role}")
    # What an agent may not see is refused by the server too: the page says so instead of showing data.
    agent = await web_page()
    await agent.goto("/sequences")
    await log_in(agent, tenant.agent.email, tenant.agent.password)
    await expect(agent).to_have_url(re.compile(r"/inbox$"))


async def test_an_ended_session_returns_to_the_login_then_to_the_page(
    web_page: MakePage, tenant: TenantContext
) -> None:
    page = await web_page()
    await page.goto("/leads")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    await expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    await page.context.clear_cookies()  # as if the session expired on the server
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Settings").click()
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettings"))
    await expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    await screenshot(page, "session-ended")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    await expect(page).to_have_url(re.compile(r"/settings$"))
    await expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.goto("/leads")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fleads"))


async def test_wrong_password_and_deactivated_account_show_the_apis_words(
    web_page: MakePage, make_tenant: MakeTenant, make_client
) -> None:  # type: ignore[no-untyped-def]
    other = await make_tenant()
    page = await web_page()
    await page.goto("/login")
    await log_in(page, other.agent.email, "not the password")
    await expect(page.get_by_role("alert")).to_have_text("wrong e-mail or password")
    async with make_client() as client:
        response = await client.post(f"/api/v1/users/{other.agent.id}/deactivate", headers=other.headers("owner"))
        assert response.status_code == 200, response.text
    await log_in(page, other.agent.email, other.agent.password)
    await expect(page.get_by_role("alert")).to_contain_text("this account is deactivated")
    await screenshot(page, "login-deactivated")

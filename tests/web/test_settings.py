"""In Chromium: an owner adds a user, creates an API key that is shown once and works, and revokes it; an admin
cannot hand out the owner role."""

import re
import uuid

import httpx
from playwright.async_api import expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.web import MakePage, log_in, screenshot


async def test_users_and_api_keys(web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient) -> None:
    page = await web_page()
    await page.goto("/settings")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    users = page.get_by_role("region", name="Users and roles")
    email = f"new-agent-{uuid.uuid4().hex[:8]}@example.com"
    add = users.get_by_role("form", name="Add a user")
    await add.get_by_label("E-mail").fill(email)
    await add.get_by_label("Full name").fill("Nina New")
    await add.get_by_label("Password").fill("a long enough password 123")
    await add.get_by_role("button", name="Add user").click()
    row = users.get_by_role("row").filter(has_text=email)
    await expect(row).to_contain_text("agent")
    await row.get_by_role("button", name="Deactivate").click()
    await expect(row).to_contain_text("deactivated")

    keys = page.get_by_role("region", name="API keys")
    create = keys.get_by_role("form", name="Create an API key")
    await create.get_by_label("What it is for").fill("web form")
    await create.get_by_role("button", name="Create key").click()
    shown = keys.get_by_test_id("new-api-key")
    key = await shown.text_content()
    assert key and key.startswith("lf_")
    await screenshot(page, "settings-api-key-shown-once")
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "agent"
    await keys.get_by_role("button", name="I have copied it").click()
    await expect(shown).to_have_count(0)
    await keys.get_by_role("row").filter(has_text="web form").get_by_role("button", name="Revoke").click()
    await expect(keys.get_by_role("row").filter(has_text="web form")).to_have_count(0)
    assert (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})).status_code == 401

    admin = await web_page()
    await admin.goto("/settings")
    await log_in(admin, tenant.admin.email, tenant.admin.password)
    role = admin.get_by_role("form", name="Add a user").get_by_label("Role")
    await expect(role.locator("option")).to_have_text(["agent", "admin"])
    await expect(admin.get_by_role("region", name=re.compile("WhatsApp account"))).to_contain_text(
        "No WhatsApp account"
    )


async def test_statuses_tenant_settings_and_tenants(
    web_page: MakePage, tenant: TenantContext, system_admin, client: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    page = await web_page()
    await page.goto("/settings")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    statuses = page.get_by_role("region", name="Statuses")
    add = statuses.get_by_role("form", name="Add a status")
    await add.get_by_label("Key").fill("demo_booked")
    await add.get_by_label("Label").fill("Demo booked")
    await add.get_by_role("button", name="Add status").click()
    await expect(statuses.get_by_role("listitem").filter(has_text="Demo booked")).to_contain_text("stage qualified")
    settings_form = page.get_by_role("form", name="Tenant settings")
    await settings_form.get_by_label(re.compile("Speed-to-lead")).fill("0")
    await settings_form.get_by_role("button", name="Save").click()
    await expect(settings_form.get_by_role("status")).to_have_text("Saved.")
    me = (await client.get("/api/v1/tenants", headers=system_admin.headers)).json()
    assert next(t for t in me if t["id"] == str(tenant.tenant_id))["speed_to_lead_minutes"] == 0

    platform = await web_page()
    await platform.goto("/tenants")
    await log_in(platform, system_admin.email, system_admin.password)
    slug = f"web-{uuid.uuid4().hex[:8]}"
    form = platform.get_by_role("form", name="New tenant")
    await form.get_by_label("Name").fill("Web Made")
    await form.get_by_label("Slug").fill(slug)
    await form.get_by_label("Owner's e-mail").fill(f"owner-{slug}@example.com")
    await form.get_by_label("Owner's password").fill("a long enough password 123")
    await form.get_by_role("button", name="Create tenant").click()
    await expect(platform.get_by_role("row").filter(has_text=slug)).to_contain_text("Web Made")

"""In Chromium: an owner adds a user, creates an API key that is shown once and works, and revokes it; an admin
cannot hand out the owner role; roles, statuses and the WhatsApp account are edited, the API's refusals shown; the
AI agent and the telephony account are set up (secrets never shown, a 422 on its field) and kept after a reload; the
tenant form starts from the current values; a system admin, who has no tenant, gets no tenant settings."""

import re
import uuid

import httpx
from playwright.async_api import Page, expect

from tests.fixtures.crm import TenantContext
from tests.fixtures.sequences import insert_leads, us_phones
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


async def test_roles_statuses_and_the_whatsapp_account_are_edited_with_the_apis_reasons(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    page = await web_page()
    await page.goto("/settings")
    await log_in(page, tenant.owner.email, tenant.owner.password)

    # A role changes in place; the API ends the person's sessions.
    users = page.get_by_role("region", name="Users and roles")
    role = users.get_by_label(f"Role of {tenant.agent.email}")
    await role.select_option("admin")
    await expect(role).to_have_value("admin")
    await expect(users.get_by_role("alert")).to_have_count(0)
    listed = (await client.get("/api/v1/users", headers=tenant.headers())).json()
    assert next(u for u in listed if u["email"] == tenant.agent.email)["role"] == "admin"

    # A status leads are in cannot go: the API's reason is shown; its label and order can change.
    statuses = page.get_by_role("region", name="Statuses")
    add = statuses.get_by_role("form", name="Add a status")
    await add.get_by_label("Key").fill("viewing_set")
    await add.get_by_label("Label").fill("Viewing set")
    await add.get_by_role("button", name="Add status").click()
    row = statuses.get_by_test_id("status").filter(has_text="viewing_set")
    await expect(row).to_contain_text("stage qualified")
    await insert_leads(session_factory, tenant, us_phones(1), status="viewing_set", stage="qualified")
    await row.get_by_role("button", name="Delete").click()
    await expect(row.get_by_role("alert")).to_contain_text("lead")
    await row.get_by_role("button", name="Edit").click()
    edit = row.get_by_role("form", name="Edit status viewing_set")
    await edit.get_by_label("Label").fill("Viewing booked")
    await edit.get_by_role("button", name="Save").click()
    await expect(statuses.get_by_test_id("status").filter(has_text="viewing_set")).to_contain_text("Viewing booked")

    # The WhatsApp account: the API's 422 on a malformed id, then saved with its secrets write-only.
    whatsapp = page.get_by_role("region", name="WhatsApp account")
    await expect(whatsapp).to_contain_text("No WhatsApp account yet.")
    form = whatsapp.get_by_role("form", name="WhatsApp account settings")
    await form.get_by_label("Phone number id").fill("not an id!")
    await form.get_by_label("Access token").fill("EAAG-web-secret")
    await form.get_by_role("button", name="Save account").click()
    await expect(form.get_by_role("alert")).to_contain_text("phone_number_id")
    phone_number_id = str(uuid.uuid4().int)[:15]
    await form.get_by_label("Phone number id").fill(phone_number_id)
    await form.get_by_label("Display number").fill("+14155550123")
    await form.get_by_role("button", name="Save account").click()
    await expect(form.get_by_role("alert")).to_contain_text("app_secret")  # a Cloud account is verified by it
    await form.get_by_label("App secret").fill("web-app-secret")
    await form.get_by_role("button", name="Save account").click()
    await expect(whatsapp).to_contain_text("access token stored, app secret stored, verify token not set")
    await expect(whatsapp).to_contain_text("+14155550123")
    await whatsapp.get_by_role("button", name="Edit account").click()
    await expect(whatsapp.get_by_label("Access token")).to_have_attribute("placeholder", "stored; leave empty to keep")
    await screenshot(page, "settings-edited")
    stored = (await client.get("/api/v1/whatsapp/account", headers=tenant.headers())).json()
    assert stored["phone_number_id"] == phone_number_id and stored["has_access_token"] is True


async def _values_in_page(page: Page) -> str:
    """Everything the page shows or holds: its text and the value of every field."""
    values = await page.evaluate("[...document.querySelectorAll('input, textarea')].map((field) => field.value)")
    return await page.locator("body").inner_text() + "\n" + "\n".join(values)


async def test_an_owner_sets_up_the_ai_agent_and_telephony_and_finds_them_after_a_reload(
    web_page: MakePage, tenant: TenantContext, client: httpx.AsyncClient
) -> None:
    api_key, auth_token = f"sk-web-{uuid.uuid4().hex}", f"tw-web-{uuid.uuid4().hex}"
    page = await web_page()
    await page.goto("/settings")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    await expect(page.get_by_text("once those exist")).to_have_count(0)

    # The AI agent: an answering mode without a key is the API's 422, shown on the key's field.
    ai = page.get_by_role("form", name="AI agent settings")
    await expect(ai.get_by_role("combobox", name="Mode", exact=True)).to_have_value("off")
    key_field = ai.locator("label").filter(has=page.locator("input[type=password]"))
    await expect(key_field).to_contain_text("not set")
    await ai.get_by_role("combobox", name="Mode", exact=True).select_option("auto")
    await ai.get_by_role("button", name="Save AI agent").click()
    await expect(key_field.get_by_role("alert")).to_have_text("required when mode is draft or auto")
    await ai.get_by_label(re.compile("^API key")).fill(api_key)
    await ai.get_by_role("combobox", name="Mode", exact=True).select_option("draft")
    await ai.get_by_label("Business facts").fill("Viewings on Saturdays, 10 to 14.")
    await ai.get_by_label(re.compile("pause at")).fill("2000000")
    await ai.get_by_role("button", name="Save AI agent").click()
    await expect(ai.get_by_role("status")).to_have_text("Saved: version 1 is in use.")
    await expect(key_field).to_contain_text("set (leave empty to keep it)")

    # Telephony: no account yet, so the form creates one; a number the API cannot read is refused on its field.
    telephony = page.get_by_role("region", name="Telephony")
    await expect(telephony).to_contain_text("No telephony account yet")
    form = telephony.get_by_role("form", name="Telephony settings")
    await form.get_by_label("Account SID").fill("AC" + uuid.uuid4().hex)
    await form.get_by_label(re.compile("^Auth token")).fill(auth_token)
    await form.get_by_label(re.compile("^Caller ids")).fill("+1 415 555 0100")
    await form.get_by_label("When a person answers").select_option("agent")
    await form.get_by_label(re.compile("^Agent number")).fill("12")
    await form.get_by_role("button", name="Create telephony account").click()
    agent_number = form.locator("label").filter(has_text="Agent number")
    await expect(agent_number.get_by_role("alert")).to_be_visible()
    await expect(form.get_by_role("alert")).to_have_count(1)  # only on its field, not repeated under the form
    await form.get_by_label(re.compile("^Agent number")).fill("+1 415 555 0199")
    await form.get_by_label(re.compile("^Calls at once")).fill("3")
    await form.get_by_role("button", name="Create telephony account").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    await screenshot(page, "settings-ai-agent-and-telephony")

    await page.reload()
    ai = page.get_by_role("form", name="AI agent settings")
    await expect(ai.get_by_role("combobox", name="Mode", exact=True)).to_have_value("draft")
    await expect(ai.get_by_label("Business facts")).to_have_value("Viewings on Saturdays, 10 to 14.")
    await expect(ai.locator("label").filter(has=page.locator("input[type=password]"))).to_contain_text("set (")
    form = page.get_by_role("form", name="Telephony settings")
    await expect(form.get_by_label(re.compile("^Agent number"))).to_have_value("+14155550199")
    await expect(form.get_by_label(re.compile("^Calls at once"))).to_have_value("3")
    await expect(form.get_by_label("When a person answers")).to_have_value("agent")
    await expect(form.locator("label").filter(has_text=re.compile("^Auth token"))).to_contain_text(
        "set (leave empty to keep it)"
    )
    shown = await _values_in_page(page)
    assert api_key not in shown and auth_token not in shown

    stored = (await client.get("/api/v1/ai/agent", headers=tenant.headers())).json()
    assert (stored["mode"], stored["has_api_key"], stored["monthly_token_budget_hard"]) == ("draft", True, 2000000)
    account = (await client.get("/api/v1/telephony/account", headers=tenant.headers())).json()
    assert (account["agent_number"], account["has_auth_token"]) == ("+14155550199", True)


async def test_the_tenant_form_starts_from_the_current_values(web_page: MakePage, tenant: TenantContext) -> None:
    page = await web_page()
    await page.goto("/settings")
    await log_in(page, tenant.owner.email, tenant.owner.password)
    form = page.get_by_role("form", name="Tenant settings")
    await expect(form.get_by_label(re.compile("Speed-to-lead"))).to_have_value("15")
    await expect(form.get_by_label(re.compile("^Time zone"))).to_have_value("UTC")
    await form.get_by_label(re.compile("^Time zone")).fill("Mars/Olympus_Mons")
    await form.get_by_role("button", name="Save").click()
    await expect(form.locator("label").filter(has_text="Time zone").get_by_role("alert")).to_contain_text(
        "IANA time zone"
    )
    await form.get_by_label(re.compile("^Time zone")).fill("Europe/Madrid")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    await page.reload()
    form = page.get_by_role("form", name="Tenant settings")
    await expect(form.get_by_label(re.compile("^Time zone"))).to_have_value("Europe/Madrid")
    await expect(form.get_by_label(re.compile("Speed-to-lead"))).to_have_value("15")


async def test_a_system_admin_gets_no_tenant_settings_and_an_admin_no_tenant_form(
    web_page: MakePage, tenant: TenantContext, system_admin
) -> None:  # type: ignore[no-untyped-def]
    platform = await web_page()
    await platform.goto("/settings")
    await log_in(platform, system_admin.email, system_admin.password)
    await expect(platform).to_have_url(re.compile("/tenants$"))  # the login lands on their own section
    await platform.goto("/settings")  # as a typed address or a bookmark does: every setting there is a tenant's
    await expect(platform.get_by_text("This section is not available for your role.")).to_be_visible()
    await expect(platform.get_by_role("form")).to_have_count(0)
    await platform.get_by_role("navigation", name="Sections").get_by_role("link", name="Tenants").click()
    await expect(platform).to_have_url(re.compile("/tenants$"))

    # An admin manages the AI agent and telephony, not the tenant's own settings (the owner's).
    admin = await web_page()
    await admin.goto("/settings")
    await log_in(admin, tenant.admin.email, tenant.admin.password)
    await expect(admin.get_by_role("form", name="AI agent settings")).to_be_visible()
    await expect(admin.get_by_role("form", name="Telephony settings")).to_be_visible()
    await expect(admin.get_by_role("form", name="Tenant settings")).to_have_count(0)

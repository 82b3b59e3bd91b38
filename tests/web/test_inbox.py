"""In Chromium, the inbox against the real stack: a WhatsApp message (a signed webhook from the test, handled by the
dispatcher) appears in the open inbox without a reload and the unread counts move; a reply goes out through the lead's
workflow and the provider sandbox records exactly one message; the reply box says why it cannot send; a lead with no
conversation yet gets its first message (a template) from its page."""

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.crm import MakeTenant, TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.web import MakePage, log_in, screenshot
from tests.fixtures.whatsapp import WhatsAppTenant, add_lead, add_message, sandbox_account

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")


async def _whatsapp(client: httpx.AsyncClient, sandbox_control: httpx.AsyncClient, tenant: TenantContext):  # type: ignore[no-untyped-def]
    phone_number_id = await sandbox_account(client, sandbox_control, tenant.headers())
    return WhatsAppTenant(tenant.tenant_id, tenant.slug, phone_number_id, app_secret="s", verify_token="")


def _inbound(account: WhatsAppTenant, sender: str, text: str) -> dict[str, Any]:
    """A signed-webhook body of a text message sent now (the fixture's own time is long past)."""
    body = account.meta_body("webhook_inbound_text.json", sender=sender.removeprefix("+"), text=text)
    for entry in body["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []):
                message["timestamp"] = str(int(time.time()))
    return body


async def _mark_page(page: Page) -> None:
    await page.evaluate("window.__sameDocument = true")


async def _same_document(page: Page) -> bool:
    return bool(await page.evaluate("window.__sameDocument === true"))


async def test_a_whatsapp_message_appears_live_and_a_reply_is_sent_once(
    web_page: MakePage, tenant: TenantContext, make_client, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    async with make_client() as client:
        account = await _whatsapp(client, sandbox_control, tenant)
        page = await web_page()
        await page.goto("/inbox")
        await log_in(page, tenant.agent.email, tenant.agent.password)
        await expect(page.get_by_text("No conversation here.")).to_be_visible()
        await _mark_page(page)

        sender = unique_phone()
        body = _inbound(account, sender, "Is the flat free?")
        assert (await account.post_cloud(client, body)).status_code == 200
        conversation = page.get_by_test_id("conversation")
        await expect(conversation).to_have_count(1)
        await expect(conversation).to_contain_text("Is the flat free?")
        await expect(conversation.get_by_label("1 unread")).to_be_visible()
        await expect(page.get_by_test_id("inbox-unread")).to_have_text("1")
        await screenshot(page, "inbox-live-message")

        await conversation.click()
        messages = page.get_by_role("list", name="Messages")
        await expect(messages).to_contain_text("Is the flat free?")
        await expect(page.get_by_test_id("inbox-unread")).to_have_count(0)  # opened: read
        await expect(conversation.get_by_label(re.compile("unread"))).to_have_count(0)

        again = _inbound(account, sender, "Saturday?")
        assert (await account.post_cloud(client, again)).status_code == 200
        await expect(messages).to_contain_text("Saturday?")

        await page.get_by_label("Your reply").fill("Yes, Saturday at ten works.")
        await page.get_by_role("button", name="Send", exact=True).click()
        await expect(messages.locator(".message.outbound")).to_contain_text("Yes, Saturday at ten works.")
        assert await _same_document(page), "the page reloaded"
        await screenshot(page, "inbox-reply-sent")

    sent = (await sandbox_control.get("/_sandbox/messages", params={"to": sender})).json()["messages"]
    assert len(sent) == 1, sent


async def test_the_reply_box_says_why_it_cannot_send_free_text(
    web_page: MakePage, tenant: TenantContext, make_client, sandbox_control: httpx.AsyncClient, session_factory
) -> None:  # type: ignore[no-untyped-def]
    async with make_client() as client:
        account = await _whatsapp(client, sandbox_control, tenant)
        stale = await add_lead(session_factory, tenant.tenant_id, name="Wrote Yesterday")
        await add_message(
            session_factory, tenant.tenant_id, stale, body="hi", at=datetime.now(tz=UTC) - timedelta(hours=30)
        )
        stopper = unique_phone()
        stop = _inbound(account, stopper, "STOP")
        assert (await account.post_cloud(client, stop)).status_code == 200
        leads = (await client.get("/api/v1/leads", params={"q": stopper}, headers=tenant.headers())).json()["items"]
        template = {"name": "welcome_back", "language": "pt_BR", "parameters": ["{{first_name}}", "Acme"]}
        sequence = {"name": "Win back", "steps": [{"type": "send_whatsapp", "template": template}]}
        assert (await client.post("/api/v1/sequences", json=sequence, headers=tenant.headers())).status_code == 201

    page = await web_page()
    await page.goto(f"/inbox/{stale}")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    await expect(page.get_by_role("note")).to_contain_text("The 24-hour window closed")
    await expect(page.get_by_label("Template name")).to_be_visible()
    await expect(page.get_by_label("Your reply")).to_have_count(0)
    # The template picker offers the templates the tenant's sequences name; choosing one fills the form.
    await page.get_by_label("Known template").select_option(label="welcome_back (pt_BR) · in Win back")
    await expect(page.get_by_label("Template name")).to_have_value("welcome_back")
    await expect(page.get_by_label("Language")).to_have_value("pt_BR")
    parameters = page.get_by_label("Parameters (comma-separated)")
    await expect(parameters).to_have_attribute("placeholder", "2 parameters, comma-separated")
    await parameters.fill("Ada, Acme")
    await page.get_by_role("button", name="Send template").click()
    outbound = page.get_by_role("list", name="Messages").locator(".message.outbound")
    await expect(outbound).to_contain_text("[template welcome_back]", timeout=30_000)
    await screenshot(page, "inbox-window-closed")

    await page.goto(f"/inbox/{leads[0]['id']}")
    await expect(page.get_by_role("note")).to_contain_text("opted out of WhatsApp")
    await expect(page.get_by_role("button", name=re.compile("^Send"))).to_have_count(0)
    await screenshot(page, "inbox-opted-out")


async def test_the_first_message_to_a_new_lead_goes_out_from_its_page(
    web_page: MakePage, tenant: TenantContext, make_tenant: MakeTenant, make_client, sandbox_control: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    phone = unique_phone()
    async with make_client() as client:
        await _whatsapp(client, sandbox_control, tenant)
        template = {"name": "first_contact", "language": "en_US", "parameters": ["{{first_name}}"]}
        sequence = {"name": "Welcome", "steps": [{"type": "send_whatsapp", "template": template}]}
        assert (await client.post("/api/v1/sequences", json=sequence, headers=tenant.headers())).status_code == 201
        created = await client.post(
            "/api/v1/leads", json={"name": "Nora New", "phone": phone}, headers=tenant.headers()
        )
        assert created.status_code == 201, created.text
    lead_id = created.json()["id"]

    page = await web_page()
    await page.goto(f"/leads/{lead_id}")
    await log_in(page, tenant.agent.email, tenant.agent.password)
    conversation = page.get_by_role("region", name="Conversation")
    await expect(conversation).to_contain_text("No WhatsApp conversation yet.")
    first = conversation.get_by_role("form", name="First message to the lead")
    await expect(first.get_by_role("note")).to_contain_text("The lead has not written yet")
    await first.get_by_label("Known template").select_option(label="first_contact (en_US) · in Welcome")
    await first.get_by_label("Parameters (comma-separated)").fill("Nora")
    await screenshot(page, "lead-first-message")
    await first.get_by_role("button", name="Send template").click()

    # The conversation now exists: the page shows it with the reply box, the inbox lists it.
    outbound = conversation.get_by_role("list", name="Messages").locator(".message.outbound")
    await expect(outbound).to_contain_text("[template first_contact]", timeout=30_000)
    await expect(conversation.get_by_role("form", name="Reply to the lead")).to_be_visible()
    await expect(conversation).not_to_contain_text("No WhatsApp conversation yet.")
    [sent] = (await sandbox_control.get("/_sandbox/messages", params={"to": phone})).json()["messages"]
    assert sent["template"] == {"name": "first_contact", "language": "en_US", "parameters": ["Nora"]}
    await page.get_by_role("link", name="Inbox").click()
    await expect(page.get_by_test_id("conversation")).to_contain_text("Nora New")

    # A tenant without a WhatsApp account: nothing to send, and who can fix it.
    bare = await make_tenant()
    async with make_client() as client:
        created = await client.post("/api/v1/leads", json={"phone": unique_phone()}, headers=bare.headers())
        assert created.status_code == 201, created.text
    other = await web_page()
    await other.goto(f"/leads/{created.json()['id']}")
    await log_in(other, bare.agent.email, bare.agent.password)
    await expect(other.get_by_role("region", name="Conversation").get_by_role("note")).to_contain_text(
        "no WhatsApp account"
    )
    await expect(other.get_by_role("button", name=re.compile("^Send"))).to_have_count(0)

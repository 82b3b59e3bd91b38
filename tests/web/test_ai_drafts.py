"""In Chromium, the AI agent in the inbox against the real stack: the tenant's agent (draft mode, sandbox model)
writes replies that wait in the open conversation; an agent approves one as written, edits and approves the next,
rejects the third, and only the approved texts reach the provider sandbox. The conversation's handler shows above
the thread: taking it over (or handing it back) moves it between the inbox's "Answered by" filters."""

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.fixtures.ai import agent_settings
from tests.fixtures.crm import TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.web import MakePage, log_in, screenshot
from tests.web.test_inbox import _inbound, _whatsapp

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")

PRICE = "Membership price: 40 EUR per month."


async def _draft_for(page: Page, text: str) -> None:
    draft = page.get_by_test_id("ai-draft")
    await expect(draft).to_have_count(1)
    await expect(draft).to_contain_text(text)
    await expect(draft).to_contain_text("draft mode")


async def test_an_agent_approves_edits_and_rejects_ai_drafts_and_takes_the_conversation_over(
    web_page: MakePage, tenant: TenantContext, make_client, sandbox_control: httpx.AsyncClient, sandbox_url: str
) -> None:  # type: ignore[no-untyped-def]
    async with make_client() as client:
        account = await _whatsapp(client, sandbox_control, tenant)
        settings = agent_settings(sandbox_url, mode="draft", debounce_seconds=0.2)
        assert (await client.put("/api/v1/ai/agent", json=settings, headers=tenant.headers())).status_code == 200
        sender = unique_phone()
        assert (await account.post_cloud(client, _inbound(account, sender, "How much is it?"))).status_code == 200

        page = await web_page()
        await page.goto("/inbox")
        await log_in(page, tenant.agent.email, tenant.agent.password)
        conversation = page.get_by_test_id("conversation")
        await expect(conversation).to_have_count(1)
        await conversation.click()
        handler = page.get_by_test_id("handler")
        await expect(handler).to_contain_text("Nobody took this conversation")
        messages = page.get_by_role("list", name="Messages")

        # 1. Approved as written.
        await _draft_for(page, PRICE)
        await screenshot(page, "ai-draft-waiting")
        await page.get_by_role("button", name="Approve and send").click()
        await expect(messages.locator(".message.outbound p")).to_have_text([PRICE])
        await expect(page.get_by_test_id("ai-draft")).to_have_count(0)

        # 2. Edited, then approved: the edited text goes out instead.
        assert (await account.post_cloud(client, _inbound(account, sender, "What about the hours?"))).status_code == 200
        await _draft_for(page, "Opening hours: 06:00-22:00 every day.")
        await page.get_by_role("button", name="Edit").click()
        await page.get_by_label("Edit the reply").fill("We are open 06:00-22:00, every day. See you soon!")
        await page.get_by_role("button", name="Send edited reply").click()
        await expect(messages.locator(".message.outbound p").last).to_have_text(
            "We are open 06:00-22:00, every day. See you soon!"
        )
        await expect(page.get_by_test_id("ai-draft")).to_have_count(0)

        # 3. Rejected: nothing is sent.
        assert (await account.post_cloud(client, _inbound(account, sender, "Tell me more"))).status_code == 200
        await _draft_for(page, "Could you tell me a bit more")
        await page.get_by_role("button", name="Reject").click()
        await expect(page.get_by_test_id("ai-draft")).to_have_count(0)
        await expect(messages.locator(".message.outbound")).to_have_count(2)

        # Taking the conversation over: the handler and the inbox's filter follow.
        await page.get_by_role("button", name="Take over").click()
        await expect(handler).to_contain_text("A person answers this conversation")
        await expect(conversation).to_contain_text("Person")
        await page.get_by_label("Answered by").select_option("ai")
        await expect(page.get_by_test_id("conversation")).to_have_count(0)
        await page.get_by_label("Answered by").select_option("human")
        await expect(page.get_by_test_id("conversation")).to_have_count(1)
        await screenshot(page, "ai-conversation-taken-over")
        await page.get_by_role("button", name="Hand back to the AI").click()
        await expect(handler).to_contain_text("The AI agent answers this conversation")
        await expect(page.get_by_test_id("conversation")).to_have_count(0)  # no longer a person's
        await page.get_by_label("Answered by").select_option("ai")
        await expect(page.get_by_test_id("conversation")).to_have_count(1)

    sent = (await sandbox_control.get("/_sandbox/messages", params={"to": sender})).json()["messages"]
    assert [m["text"] for m in sent] == [PRICE, "We are open 06:00-22:00, every day. See you soon!"]

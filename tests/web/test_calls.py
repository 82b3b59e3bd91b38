"""In Chromium: an agent calls a lead from its page (the agent's phone rings first, then the lead is bridged), sees
the call live in "Calls", then in the lead's call history with its duration and disposition, and records what came
of it; without an agent number on the account the agent calls the lead directly or gives their own phone to ring; a
tenant without telephony shows no Call button."""

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.calls import make_call_tenant, sandbox_call_ended, sandbox_calls, set_persona
from tests.fixtures.crm import MakeTenant, TenantContext
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.web import MakePage, log_in, screenshot
from tests.fixtures.whatsapp import add_lead

pytestmark = pytest.mark.usefixtures("voice_api", "lead_worker")


async def test_an_agent_calls_a_lead_and_sets_the_disposition(
    web_page: MakePage,
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    calls = await make_call_tenant(client, make_tenant)
    lead_phone = unique_phone()
    lead_id = await add_lead(session_factory, calls.tenant.tenant_id, phone=lead_phone, name="Grace Hopper")
    await set_persona(sandbox_control, calls.agent_number, behaviour="human")
    await set_persona(sandbox_control, lead_phone, behaviour="human", dial_seconds=6)

    page = await web_page()
    await page.goto(f"/leads/{lead_id}")
    await log_in(page, calls.tenant.agent.email, calls.tenant.agent.password)
    section = page.get_by_role("region", name="Calls")
    await expect(section).to_contain_text("No call yet.")
    await section.get_by_role("button", name="Call", exact=True).click()
    await expect(section.get_by_test_id("call")).to_have_count(1)
    # While the lead talks, the call is on the live view and counted beside "Calls".
    await expect(page.get_by_test_id("live-calls")).to_have_text("1", timeout=20_000)
    await page.get_by_role("link", name="Calls").click()
    await expect(page.get_by_test_id("live-call")).to_contain_text("in-progress")
    await screenshot(page, "calls-live")
    await page.go_back()

    call = page.get_by_role("region", name="Calls").get_by_test_id("call")
    await expect(call.get_by_test_id("call-disposition")).to_have_text("Connected", timeout=40_000)
    await expect(call).to_contain_text("completed")
    await expect(call).to_contain_text("0:0")  # the bridged minutes, m:ss
    await call.get_by_label("Disposition", exact=True).select_option(label="Interested")
    await call.get_by_label("Call note").fill("Wants a viewing on Saturday")
    await call.get_by_role("button", name="Save").click()
    await expect(call.get_by_test_id("call-disposition")).to_have_text("Interested")
    await expect(call).to_contain_text("Wants a viewing on Saturday")
    await screenshot(page, "lead-calls")
    assert [c["to"] for c in await sandbox_calls(sandbox_control, calls.agent_number)] == [calls.agent_number]

    # A tenant without a telephony account: no Call button, no live view.
    bare_lead = await add_lead(session_factory, tenant.tenant_id, phone=unique_phone())
    other = await web_page()
    await other.goto(f"/leads/{bare_lead}")
    await log_in(other, tenant.agent.email, tenant.agent.password)
    await expect(other.get_by_role("region", name="Calls")).to_contain_text("No call yet.")
    await expect(other.get_by_role("button", name="Call", exact=True)).to_have_count(0)
    await expect(other.get_by_role("link", name="Calls")).to_have_count(0)


async def test_without_an_agent_number_an_agent_calls_the_lead_directly_or_gives_their_phone(
    web_page: MakePage,
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    answer = "Hi, this is Acme Realty about your enquiry. An agent will call you back."
    calls = await make_call_tenant(
        client, make_tenant, agent_number=None, human_answer_mode="message", answer_message=answer
    )
    lead_phone = unique_phone()
    lead_id = await add_lead(session_factory, calls.tenant.tenant_id, phone=lead_phone, name="Ada Lovelace")
    await set_persona(sandbox_control, lead_phone, behaviour="human")

    page = await web_page()
    await page.goto(f"/leads/{lead_id}")
    await log_in(page, calls.tenant.agent.email, calls.tenant.agent.password)
    control = page.get_by_role("form", name="Place a call")
    # No phone to ring first: the call goes to the lead, who hears the account's message.
    await expect(control.get_by_label("Call the lead directly")).to_be_checked()
    await expect(control).to_contain_text("they hear the account's message")
    await screenshot(page, "lead-call-direct")
    await control.get_by_role("button", name="Call", exact=True).click()
    section = page.get_by_role("region", name="Calls")
    await expect(section.get_by_test_id("call")).to_have_count(1)
    heard = await sandbox_call_ended(sandbox_control, lead_phone)
    assert ("say", answer) in [(step["verb"], step["text"]) for step in heard["steps"]]
    await expect(section.get_by_test_id("call").first).to_contain_text("completed", timeout=40_000)

    # The agent's own phone rings first, then the lead is bridged; the app remembers it for the next call.
    my_phone = unique_phone()
    await set_persona(sandbox_control, my_phone, behaviour="human")
    await control.get_by_label("Ring my phone first").check()
    await control.get_by_label("My phone", exact=True).fill(my_phone)
    await expect(control).to_contain_text("rings first; the lead is dialled once you answer")
    await control.get_by_role("button", name="Call", exact=True).click()
    await expect(section.get_by_test_id("call")).to_have_count(2)
    rang = await sandbox_call_ended(sandbox_control, my_phone)
    assert ("dial", lead_phone) in [(step["verb"], step["text"]) for step in rang["steps"]]
    await page.reload()
    await expect(control.get_by_label("Ring my phone first")).to_be_checked()
    await expect(control.get_by_label("My phone", exact=True)).to_have_value(my_phone)

"""The demo seed against a real API and the provider sandbox, without the whole stack: what the demo owner can do in
the web app right after `up` (test_up.py runs `up` itself)."""

import httpx
import pytest

from core.config import Settings
from devstack import seed
from tests.fixtures.calls import TELEPHONY, sandbox_calls
from tests.fixtures.whatsapp import eventually, sandbox_account

pytestmark = pytest.mark.usefixtures("lead_worker")


async def test_click_to_call_rings_the_demo_agent_number_even_on_a_demo_seeded_before_it(
    settings: Settings, voice_api: str, sandbox_control: httpx.AsyncClient
) -> None:
    await seed.seed_demo_accounts(settings)
    async with httpx.AsyncClient(base_url=voice_api, timeout=60) as owner:
        login = await owner.post(
            "/api/v1/auth/login", json={"email": seed.DEMO_OWNER.email, "password": seed.DEMO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        owner.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        # A WhatsApp account of its own: the sandbox's default phone number id may belong to another test's tenant.
        await sandbox_account(owner, sandbox_control, {})
        # The telephony account an earlier seed gave: no agent number, so "Call" had no phone to ring first.
        before = {key: value for key, value in seed.DEMO_TELEPHONY.items() if key != "agent_number"}
        assert (await owner.put(TELEPHONY, json=before)).status_code == 200

        await seed.seed_demo_leads(settings, voice_api)

        account = (await owner.get(TELEPHONY)).json()
        assert account["agent_number"] == seed.DEMO_AGENT_NUMBER
        assert account["answer_message"] == seed.DEMO_TELEPHONY["answer_message"]
        me = (await owner.get("/api/v1/auth/me")).json()
        assert me["telephony"] is True
        assert me["calls"] == {"agent_number": seed.DEMO_AGENT_NUMBER, "direct_answer": "message"}

        # What the web app's "Call" sends: the demo agent's phone rings first, then the lead is bridged.
        leads = (await owner.get("/api/v1/leads", params={"q": "Grace"})).json()["items"]
        placed = await owner.post(f"/api/v1/leads/{leads[0]['id']}/calls", json={"ring_agent_first": True})
        assert placed.status_code == 202, placed.text
        assert placed.json()["agent_phone"] == seed.DEMO_AGENT_NUMBER

        async def agent_rung() -> list[object] | None:
            return await sandbox_calls(sandbox_control, seed.DEMO_AGENT_NUMBER) or None

        assert await eventually(agent_rung, within_seconds=30)

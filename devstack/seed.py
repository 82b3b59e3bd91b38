"""First data of a Leadflow database: the platform administrator, and the dev stack's demo tenant.

`bootstrap` (every environment, production included) migrates to head and makes sure the system_admin from
settings exists. `seed_demo_accounts` creates the demo tenant with an owner, an admin and an agent through the
tenant and user services; `seed_demo_leads` sets up the demo tenant's WhatsApp (the provider sandbox) and adds the
demo leads through the running API, as a user would, so each gets its LeadWorkflow. Every step is idempotent:
running `up` again finds what is there and adds only what is not.
"""

import asyncio
from dataclasses import dataclass

import httpx

from api.schemas.telephony import TelephonyAccountUpdate
from api.services.tenants import create_tenant, ensure_system_admin
from api.services.users import add_user
from core.config import Settings
from core.db import create_engine, create_session_factory
from core.migrate import upgrade_to_head
from domain.permissions import Role
from repositories.tenants import TenantRepository
from repositories.users import UserRepository

DEMO_PASSWORD = "leadflow-demo"


@dataclass(frozen=True)
class DemoUser:
    role: Role
    email: str
    name: str


DEMO_TENANT_NAME = "Demo Realty"
DEMO_TENANT_SLUG = "demo"
DEMO_OWNER = DemoUser(Role.OWNER, "owner@demo.leadflow.local", "Olivia Owner")
DEMO_USERS = (
    DEMO_OWNER,
    DemoUser(Role.ADMIN, "admin@demo.leadflow.local", "Adam Admin"),
    DemoUser(Role.AGENT, "agent@demo.leadflow.local", "Agnes Agent"),
)


@dataclass(frozen=True)
class DemoLead:
    name: str
    phone: str  # as a person types it: national formats are normalised with the tenant's region (US)
    email: str | None = None
    source: str = "web_form"
    for_agent: bool = False  # owned by the demo agent, so the agent's view is not empty
    status: str | None = None  # moved there through the lead's workflow after it is created


DEMO_LEADS = (
    DemoLead("Grace Hopper", "(415) 555-0101", "grace@example.com", for_agent=True),
    DemoLead("Alan Turing", "415-555-0102", "alan@example.com", for_agent=True, status="contacted"),
    DemoLead("Katherine Johnson", "+1 212 555 0103", "katherine@example.com", source="api", status="qualified"),
    DemoLead("Ada Lovelace", "+44 20 7946 0958", "ada@example.co.uk", source="csv"),
    DemoLead("Edsger Dijkstra", "(650) 555-0105", source="whatsapp", for_agent=True),
)


async def bootstrap(settings: Settings) -> None:
    """Migrate to head and ensure the first system_admin exists (safe to run on every start)."""
    await asyncio.to_thread(upgrade_to_head, settings.require_database_url())
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            await ensure_system_admin(
                session, email=settings.bootstrap_admin_email, password=settings.bootstrap_admin_password
            )
            await session.commit()
    finally:
        await engine.dispose()


async def seed_demo_accounts(settings: Settings) -> None:
    """The demo tenant with its owner (and default statuses), plus an admin and an agent, unless already there."""
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            tenant = await TenantRepository(session).get_by_slug(DEMO_TENANT_SLUG)
            if tenant is None:
                tenant = await create_tenant(
                    session,
                    name=DEMO_TENANT_NAME,
                    slug=DEMO_TENANT_SLUG,
                    owner_email=DEMO_OWNER.email,
                    owner_password=DEMO_PASSWORD,
                    owner_name=DEMO_OWNER.name,
                    default_region=settings.default_phone_region,
                    timezone=settings.default_timezone,
                    speed_to_lead_minutes=settings.default_speed_to_lead_minutes,
                )
            users = UserRepository(session)
            for user in DEMO_USERS:
                if await users.get_by_email(user.email) is None:
                    await add_user(
                        session,
                        tenant_id=tenant.id,
                        email=user.email,
                        role=user.role,
                        full_name=user.name,
                        password=DEMO_PASSWORD,
                    )
            await session.commit()
    finally:
        await engine.dispose()


async def seed_demo_leads(settings: Settings, api_url: str) -> int:
    """Log in as the demo owner, give the tenant a WhatsApp account and a telephony account (with the agent number
    click-to-call rings first) on the provider sandbox and an AI agent in draft mode on the sandbox model (unless it
    has them) and create the demo leads over HTTP; returns how many were new.

    A lead whose phone is already taken answers 409, which is how a second run knows it is already seeded. The
    status moves go through each new lead's workflow, like an agent's would.
    """
    created = 0
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:
        login = await http.post("/api/v1/auth/login", json={"email": DEMO_OWNER.email, "password": DEMO_PASSWORD})
        _expect(login, 200, "logging in as the demo owner")
        http.headers["X-CSRF-Token"] = http.cookies.get(settings.csrf_cookie_name) or ""
        users = await http.get("/api/v1/users")
        _expect(users, 200, "listing the demo users")
        agent_id = next(user["id"] for user in users.json() if user["role"] == Role.AGENT.value)
        account = await http.get("/api/v1/whatsapp/account")
        if account.status_code == 404:
            # WhatsApp through the local provider sandbox, which speaks the Graph API and signs its webhooks.
            account = await http.put("/api/v1/whatsapp/account", json={"provider": "sandbox"})
        _expect(account, 200, "giving the demo tenant its sandbox WhatsApp account")
        agent = await http.get("/api/v1/ai/agent")
        _expect(agent, 200, "reading the demo tenant's AI agent")
        if agent.json()["version"] == 0:
            # The AI agent on the sandbox model, in draft mode: every reply waits for a person's approval.
            configured = await http.put("/api/v1/ai/agent", json=demo_agent_settings(settings))
            _expect(configured, 200, "giving the demo tenant its AI agent on the sandbox model")
        telephony = await http.get("/api/v1/telephony/account")
        if telephony.status_code == 404:
            # Calls through the sandbox, which speaks Twilio's REST API and plays each call against the API's TwiML.
            telephony = await http.put("/api/v1/telephony/account", json=DEMO_TELEPHONY)
        elif telephony.status_code == 200 and not telephony.json()["agent_number"]:
            # Seeded before the demo had an agent number: click-to-call had no phone to ring first. The rest of the
            # account stays as it is (the auth token, left out, is kept).
            # What the account reads as, minus what only a read shows (the update refuses unknown fields).
            kept = {key: value for key, value in telephony.json().items() if key in TelephonyAccountUpdate.model_fields}
            telephony = await http.put("/api/v1/telephony/account", json={**kept, "agent_number": DEMO_AGENT_NUMBER})
        _expect(telephony, 200, "giving the demo tenant its sandbox telephony account")
        for lead in DEMO_LEADS:
            body = {"name": lead.name, "phone": lead.phone, "email": lead.email, "source": lead.source}
            if lead.for_agent:
                body["owner_id"] = agent_id
            response = await http.post("/api/v1/leads", json=body)
            if response.status_code == 409:
                continue
            _expect(response, 201, f"creating demo lead {lead.name!r}")
            created += 1
            if lead.status:
                lead_id = response.json()["id"]
                moved = await http.post(f"/api/v1/leads/{lead_id}/status", json={"status": lead.status})
                _expect(moved, 200, f"moving demo lead {lead.name!r} to {lead.status!r}")
    return created


# The demo agents' desk phone, which click-to-call rings first. The sandbox answers a number it has no persona for as
# a person who picks up, so the agent "answers" and the lead is bridged; a persona posted for it changes that.
DEMO_AGENT_NUMBER = "+14155550150"

DEMO_TELEPHONY: dict[str, object] = {
    "provider": "sandbox",
    "account_sid": "AC" + "0" * 31 + "1",
    "caller_ids": ["+14155550100"],
    "agent_number": DEMO_AGENT_NUMBER,
    "voicemail_policy": "drop_message",
    "voicemail_message": "Hi, this is Demo Realty about your enquiry. Sorry we missed you, we will call back.",
    "human_answer_mode": "message",
    "answer_message": "Hi, this is Demo Realty about your enquiry. An agent will call you back shortly. Goodbye.",
}


def demo_agent_settings(settings: Settings) -> dict[str, object]:
    return {
        "mode": "draft",
        "model": "sandbox-model",
        "base_url": f"{settings.sandbox_url()}/v1",
        "api_key": settings.openai_sandbox_api_key,
        "system_prompt": "You are the friendly assistant of Demo Realty, a real-estate agency. Keep replies short.",
        "facts": (
            "Agency fee: 3% of the sale price\n"
            "Office opening hours: 09:00-19:00, Monday to Saturday\n"
            "Home valuations are free"
        ),
        "debounce_seconds": 3,
        "draft_timeout_minutes": 120,
        "monthly_token_budget_soft": 500_000,
        "monthly_token_budget_hard": 1_000_000,
    }


def _expect(response: httpx.Response, status: int, doing: str) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{doing} failed: HTTP {response.status_code} {response.text[:500]}")

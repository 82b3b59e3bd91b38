"""`GET /api/v1/whatsapp/templates`: the templates the tenant's sequences name and its messages were sent with, for
the inbox's template picker; readable by agents; another tenant's templates never appear."""

from datetime import UTC, datetime, timedelta

import httpx

from models import Message
from repositories.conversations import ConversationRepository
from tests.fixtures.crm import MakeTenant, TenantContext
from tests.fixtures.sequences import create_sequence, insert_leads, us_phones

TEMPLATES = "/api/v1/whatsapp/templates"


async def _sent_template(session_factory, tenant: TenantContext, name: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    (lead_id,) = await insert_leads(session_factory, tenant, us_phones(1))
    async with session_factory() as session, session.begin():
        conversation = await ConversationRepository(session).get_or_create(
            tenant_id=tenant.tenant_id, lead_id=lead_id, channel="whatsapp"
        )
        session.add(
            Message(
                tenant_id=tenant.tenant_id,
                conversation_id=conversation.id,
                lead_id=lead_id,
                direction="outbound",
                kind="template",
                body=f"[template {name}]",
                template=name,
                provider="sandbox",
                status="delivered",
                occurred_at=at,
            )
        )


async def test_templates_of_sequences_and_sent_messages_are_listed_for_agents(
    client: httpx.AsyncClient, tenant: TenantContext, make_tenant: MakeTenant, session_factory
) -> None:  # type: ignore[no-untyped-def]
    steps = [
        {
            "type": "send_whatsapp",
            "id": "hi",
            "template": {"name": "welcome_v2", "language": "pt_BR", "parameters": ["{{first_name}}", "Acme"]},
        },
        {"type": "wait", "duration": {"days": 1}},
        {"type": "send_whatsapp", "text": "Still there?", "fallback_template": {"name": "follow_up"}},
    ]
    sequence = await create_sequence(client, tenant, name="Onboarding", steps=steps)
    now = datetime.now(UTC)
    await _sent_template(session_factory, tenant, "welcome_v2", now - timedelta(hours=2))
    await _sent_template(session_factory, tenant, "promo_march", now - timedelta(hours=1))
    other = await make_tenant()
    await _sent_template(session_factory, other, "other_tenants_secret", now)

    answer = await client.get(TEMPLATES, headers=tenant.headers("agent"))
    assert answer.status_code == 200, answer.text
    templates = answer.json()
    assert [t["name"] for t in templates] == ["promo_march", "welcome_v2", "follow_up"]  # last sent first
    promo, welcome, follow_up = templates
    assert promo["language"] is None and promo["sent_count"] == 1 and promo["sequences"] == []
    assert welcome["language"] == "pt_BR" and welcome["parameter_count"] == 2 and welcome["sent_count"] == 1
    assert welcome["sequences"] == [sequence["name"]]
    assert follow_up["language"] == "en" and follow_up["sent_count"] == 0 and follow_up["last_sent_at"] is None

    assert (await client.get(TEMPLATES)).status_code == 401

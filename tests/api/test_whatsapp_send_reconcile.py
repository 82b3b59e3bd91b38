"""A Cloud status webhook whose `biz_opaque_callback_data` names an outbox row left `sending` (the send activity died
or lost the provider's answer) stores that send: the message in the conversation, the row `sent` with the provider
id. Only the tenant owning the row can reconcile it, and only while it still waits."""

import secrets
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.whatsapp_messages import SendWhatsAppInput
from models import Message, OutboxMessage
from tests.fixtures.whatsapp import WhatsAppTenant, add_lead, create_whatsapp_tenant, fresh_wamid


async def _sending_row(
    session_factory: async_sessionmaker[AsyncSession], tenant: WhatsAppTenant, lead_id: uuid.UUID, text: str
) -> str:
    """The row a send attempt commits before calling the provider (channels/whatsapp/outbox.py `_payload`)."""
    data = SendWhatsAppInput(
        tenant_id=str(tenant.id),
        lead_id=str(lead_id),
        workflow_id=f"lead:{tenant.slug}:{lead_id}",
        step=f"manual:{secrets.token_hex(4)}",
        text=text,
        requested_by="user:agent",
    )
    payload = {**data.model_dump(mode="json"), "_mode": "text", "_template": None, "_provider": "cloud"}
    async with session_factory() as session:
        session.add(
            OutboxMessage(
                tenant_id=tenant.id,
                lead_id=lead_id,
                idempotency_key=data.idempotency_key,
                payload={**payload, "_reconcilable": True},
                state="sending",
                attempts=1,
                started_at=datetime.now(tz=UTC),
            )
        )
        await session.commit()
    return data.idempotency_key


def _status(tenant: WhatsAppTenant, wamid: str, callback_data: str) -> dict:  # type: ignore[type-arg]
    body = tenant.meta_body("webhook_status_sent.json", message_id=wamid)
    body["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] = callback_data
    return body


async def _row(session_factory: async_sessionmaker[AsyncSession], key: str) -> OutboxMessage:
    async with session_factory() as session:
        return (await session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))).scalar_one()


async def test_a_status_naming_a_sending_row_stores_the_send(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    lead_id = await add_lead(session_factory, wa_tenant.id)
    key = await _sending_row(session_factory, wa_tenant, lead_id, "See you on Saturday")
    wamid = fresh_wamid()

    for _ in range(2):  # a repeated delivery changes nothing more
        response = await wa_tenant.post_cloud(client, _status(wa_tenant, wamid, key))
        assert response.status_code == 200, response.text

    row = await _row(session_factory, key)
    assert (row.state, row.provider_message_id) == ("sent", wamid)
    async with session_factory() as session:
        [message] = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert (message.id, message.direction, message.body, message.status) == (
        row.message_id,
        "outbound",
        "See you on Saturday",
        "sent",
    )
    assert message.sent_by == "user:agent"


async def test_another_tenants_status_cannot_reconcile_a_row(
    client: httpx.AsyncClient, wa_tenant: WhatsAppTenant, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    lead_id = await add_lead(session_factory, wa_tenant.id)
    key = await _sending_row(session_factory, wa_tenant, lead_id, "hello")
    other = await create_whatsapp_tenant(session_factory)

    response = await other.post_cloud(client, _status(other, fresh_wamid(), key))

    assert response.status_code == 200, response.text
    row = await _row(session_factory, key)
    assert (row.state, row.provider_message_id) == ("sending", None)
    async with session_factory() as session:
        stored = (await session.execute(select(Message).where(Message.lead_id == lead_id))).scalars().all()
    assert stored == []

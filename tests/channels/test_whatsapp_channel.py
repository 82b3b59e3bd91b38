"""WhatsApp through the channel interface (channels/channel.py): what a voice or SMS channel will also provide."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.whatsapp import WhatsAppActivities
from channels.channel import Channel
from core.config import Settings
from domain.whatsapp_messages import SendWhatsAppInput, SendWhatsAppResult
from repositories.conversations import ConversationRepository
from tests.fixtures.sandbox import load_fixture
from tests.fixtures.whatsapp import add_lead, create_whatsapp_tenant


@pytest.fixture
async def channel(
    settings: Settings, sandbox_url: str, session_factory: async_sessionmaker[AsyncSession], redis
) -> AsyncIterator[Channel[SendWhatsAppInput, SendWhatsAppResult]]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=5) as http:
        config = settings.model_copy(update={"sandbox_base_url": sandbox_url})
        yield WhatsAppActivities(session_factory=session_factory, http=http, redis=redis, settings=config).channel


def test_each_provider_s_callback_reads_into_events_naming_account_and_person(
    channel: Channel[SendWhatsAppInput, SendWhatsAppResult],
) -> None:
    cloud = channel.parse_inbound("cloud", load_fixture("meta/webhook_status_failed_131050.json"))
    evolution = channel.parse_inbound("evolution", load_fixture("evolution/webhook_messages_upsert_text.json"))
    connection = channel.parse_inbound("evolution", load_fixture("evolution/webhook_connection_update_open.json"))
    assert [(e.event, e.account_id, e.person) for e in cloud] == [("status", "109876543210987", "+14155550123")]
    assert [e.event for e in evolution] == ["inbound_message"] and evolution[0].person.startswith("+")
    assert [(e.event, e.person) for e in connection] == [("connection_update", "")]
    assert channel.name == "whatsapp" and set(channel.inbox_providers) == {"cloud", "evolution"}


def test_a_payload_of_another_provider_or_shape_is_refused(
    channel: Channel[SendWhatsAppInput, SendWhatsAppResult],
) -> None:
    with pytest.raises(ValueError, match="no WhatsApp provider"):
        channel.parse_inbound("twilio", load_fixture("meta/webhook_inbound_text.json"))
    with pytest.raises(ValueError, match="whatsapp_business_account"):
        channel.parse_inbound("cloud", load_fixture("evolution/webhook_messages_upsert_text.json"))


async def test_a_send_through_the_channel_reaches_the_provider_once(
    channel: Channel[SendWhatsAppInput, SendWhatsAppResult],
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
) -> None:
    tenant = await create_whatsapp_tenant(session_factory, provider="sandbox")
    registered = await sandbox_control.post(
        "/_sandbox/accounts/cloud",
        json={
            "phone_number_id": tenant.phone_number_id,
            "access_token": tenant.access_token,
            "app_secret": tenant.app_secret,
        },
    )
    assert registered.status_code == 201, registered.text
    lead_id = await add_lead(session_factory, tenant.id)
    async with session_factory() as session:
        conversations = ConversationRepository(session)
        conversation = await conversations.get_or_create(tenant_id=tenant.id, lead_id=lead_id, channel="whatsapp")
        await conversations.record_inbound(
            conversation_id=conversation.id, at=datetime.now(tz=UTC) - timedelta(minutes=5), preview="hi"
        )
        await session.commit()
    request = SendWhatsAppInput(
        tenant_id=str(tenant.id),
        lead_id=str(lead_id),
        workflow_id=f"lead:{tenant.slug}:{lead_id}",
        step="channel-test",
        text="Through the channel",
    )
    first = await channel.send(request)
    again = await channel.send(request)
    assert (again.provider_message_id, again.duplicate, first.duplicate) == (first.provider_message_id, True, False)
    listed = (await sandbox_control.get("/_sandbox/messages", params={"account": tenant.phone_number_id})).json()
    sent = [m for m in listed["messages"] if m["id"] == first.provider_message_id]
    assert [m["text"] for m in sent] == ["Through the channel"]

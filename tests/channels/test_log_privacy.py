"""What the WhatsApp channel logs about a person is ids and reasons, never their number: the log records as the code
wrote them (before the formatter's scrubber, which is the second line of defence) and the JSON line they become."""

import logging

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.leads import lead_for_number
from channels.whatsapp.pacing import SendPacer
from core.logging import JsonFormatter
from core.redis import Keys
from models import Tenant
from tests.fixtures.crm import MakeTenant
from tests.fixtures.sandbox import unique_phone


def _assert_no_number(text: str, number: str) -> None:
    digits = "".join(ch for ch in number if ch.isdigit())
    assert number not in text and digits not in text, text


async def test_a_pacing_failure_logs_the_send_not_the_recipient(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)  # nothing listens on port 1
    pacer = SendPacer(unreachable, Keys("privacy"), per_second=80, recipient_interval_seconds=6)
    phone = unique_phone()
    try:
        with caplog.at_level(logging.WARNING, logger="channels.whatsapp.pacing"):
            await pacer.sent(sender="15550001111", recipient=phone, send_key="lead:acme:42:step:3")
    finally:
        await unreachable.aclose()
    [record] = caplog.records
    assert "send lead:acme:42:step:3" in record.getMessage()
    _assert_no_number(record.getMessage(), phone)
    _assert_no_number(JsonFormatter().format(record), phone)


@pytest.mark.parametrize("number", ["+1 555 01", "5550199x"])
async def test_an_unusable_inbound_number_is_logged_by_tenant_and_reason_only(
    session_factory: async_sessionmaker[AsyncSession],
    make_tenant: MakeTenant,
    caplog: pytest.LogCaptureFixture,
    number: str,
) -> None:
    context = await make_tenant()
    async with session_factory() as session:
        tenant = await session.get(Tenant, context.tenant_id)
        assert tenant is not None
        with caplog.at_level(logging.WARNING, logger="channels.leads"):
            lead, created = await lead_for_number(
                session, tenant=tenant, number=number, name="Ada Example", source="whatsapp"
            )
    assert (lead, created) == (None, False)
    [record] = caplog.records
    message = record.getMessage()
    assert str(context.tenant_id) in message and "skipped" in message
    _assert_no_number(message, number)
    assert "Ada Example" not in message
    _assert_no_number(JsonFormatter().format(record), number)

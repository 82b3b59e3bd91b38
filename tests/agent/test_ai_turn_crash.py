"""Workers SIGKILLed in the middle of an AI turn: after recovery the lead gets exactly one reply.

Real `python -m worker` processes run the turn. The first is killed while the sandbox model holds its answer
(`model_delay`): the turn activity heartbeats, so its death is noticed within the heartbeat timeout and the retried
attempt on the next worker asks the model again. That worker is killed in turn once the provider has taken the reply
but before it heard the answer (`slow_accept`): the provider's status webhook reconciles the outbox row, and the
third worker's re-run of the turn finds its reply in the outbox under the turn's own key (`ai:<run>:<turn>`): it
neither asks the model again nor sends it again.
"""

import asyncio
import re
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from models import AiUsage, Message, OutboxMessage
from tests.activities.test_whatsapp_send_crash import WorkerProcess, crash_stack, relay_webhooks
from tests.fixtures.ai import agent_settings, lead_writes, model_calls, sent_texts
from tests.fixtures.crm import TenantContext
from tests.fixtures.sandbox import WebhookReceiver, unique_phone
from tests.fixtures.whatsapp import eventually
from workflows.ids import lead_workflow_id
from workflows.lead import LeadWorkflow

__all__ = ["crash_stack"]  # the fixture: an own namespace, the API in-process, worker processes the test kills

PRICE = "Membership price: 40 EUR per month."

# The inbox dispatcher handles the relayed status webhook: that is what reconciles the outbox row.
pytestmark = pytest.mark.usefixtures("inbox_dispatcher")


async def test_a_worker_killed_while_the_model_thinks_sends_one_reply_after_recovery(
    crash_stack: tuple[Client, httpx.AsyncClient, list[WorkerProcess], dict[str, str]],
    tenant: TenantContext,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    client, api, workers, env = crash_stack
    account = {"provider": "sandbox", "phone_number_id": f"9{tenant.tenant_id.int % 10**14:014d}", "app_secret": "s"}
    token = f"token-{tenant.slug}"
    answer = await api.put(
        "/api/v1/whatsapp/account", json={**account, "access_token": token}, headers=tenant.headers()
    )
    assert answer.status_code == 200, answer.text
    url = webhook_receiver.endpoint("cloud")
    registered = await sandbox_control.post(
        "/_sandbox/accounts/cloud",
        json={
            "phone_number_id": account["phone_number_id"],
            "access_token": token,
            "app_secret": "s",
            "webhook_url": url,
        },
    )
    assert registered.status_code == 201, registered.text
    answer = await api.put(
        "/api/v1/ai/agent", json=agent_settings(sandbox_url, debounce_seconds=0.2), headers=tenant.headers()
    )
    assert answer.status_code == 200, answer.text
    first = WorkerProcess(env)
    workers.append(first)
    await first.start(client)
    created = await api.post(
        "/api/v1/leads", json={"phone": unique_phone(), "name": "Maria Lopez"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    lead_id, phone = uuid.UUID(created.json()["id"]), created.json()["phone"]
    # The model takes its time on the first call: the worker dies while it waits.
    fault = {"kind": "model_delay", "user": f"lead:{lead_id}", "delay_seconds": 60}
    assert (await sandbox_control.post("/_sandbox/faults", json=fault)).status_code == 201

    await lead_writes(client, session_factory, tenant, lead_id, "How much is it?")
    await eventually(lambda: model_calls(sandbox_control, lead_id), within_seconds=30)
    await first.kill()
    assert await sent_texts(sandbox_control, phone) == []
    # The provider will take the reply and hold its answer: the next worker dies before it hears it.
    slow = {"kind": "slow_accept", "to": phone, "delay_seconds": 60}
    assert (await sandbox_control.post("/_sandbox/faults", json=slow)).status_code == 201
    second = WorkerProcess(env)
    workers.append(second)
    await second.start(client)
    await eventually(lambda: sent_texts(sandbox_control, phone), within_seconds=60)
    await second.kill()
    await webhook_receiver.wait_for(url, 1)
    await relay_webhooks(webhook_receiver, url, api)  # the status webhook names the outbox key
    third = WorkerProcess(env)
    workers.append(third)
    await third.start(client)

    async def replied() -> bool:
        handle = client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant.slug, str(lead_id)))
        return (await handle.query(LeadWorkflow.view)).ai_replies == 1

    await eventually(replied, within_seconds=90)  # the send's re-run comes after its start-to-close (30 s)
    await asyncio.sleep(2)  # a second reply, if any, would follow now
    assert await sent_texts(sandbox_control, phone) == [PRICE]
    assert len(await model_calls(sandbox_control, lead_id)) == 2  # the killed attempt's call, then the retry's
    view = await client.get_workflow_handle_for(LeadWorkflow.run, lead_workflow_id(tenant.slug, str(lead_id))).query(
        LeadWorkflow.view
    )
    assert (view.ai_turns, view.ai_replies) == (1, 1)
    async with session_factory() as session:
        outbox = (await session.execute(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id))).scalars().all()
        outbound = (
            (await session.execute(select(Message).where(Message.lead_id == lead_id, Message.direction == "outbound")))
            .scalars()
            .all()
        )
        usage = (await session.execute(select(AiUsage).where(AiUsage.lead_id == lead_id))).scalars().all()
    (row,) = outbox
    # The turn's own key: <lead workflow id>:ai:<run id>:<turn>.
    assert (row.state, row.attempts) == ("sent", 1)  # the re-run found it reconciled: no second provider call
    assert re.fullmatch(
        rf"{re.escape(lead_workflow_id(tenant.slug, str(lead_id)))}:ai:[0-9a-f-]+:1", row.idempotency_key
    )
    assert [m.body for m in outbound] == [PRICE]
    # Only the retried attempt got an answer to record: attempt 2 of turn 1.
    assert [u.call_key.rsplit(":", 2)[1:] for u in usage] == [["a2", "r1"]]

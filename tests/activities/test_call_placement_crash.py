"""A worker killed after Twilio accepted a call, before it stored the call's SID: the lead is dialled once.

A real `python -m worker` is SIGKILLed while the sandbox holds its answer to the Calls create (`slow_accept`: the
call is placed and ringing at once, only the REST answer is late). The call's first status callback, whose URL
carries the attempt's token, names the SID; a fresh worker's re-run of the placement finds it and does not dial.
"""

import secrets
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core.config import Settings
from core.payload_codec import data_converter
from models import Call
from tests.activities.test_whatsapp_send_crash import WorkerProcess, _own_namespace
from tests.fixtures.calls import TENANT_NUMBER, make_call_tenant, set_persona
from tests.fixtures.crm import MakeTenant
from tests.fixtures.module_process import worker_env
from tests.fixtures.sandbox import unique_phone
from tests.fixtures.whatsapp import add_lead, eventually
from workflow_clients.call import CallWorkflowClient
from workflows.call import CallWorkflow
from workflows.call_types import CallWorkflowInput
from workflows.ids import call_workflow_id

pytestmark = pytest.mark.usefixtures("voice_api")


async def test_a_worker_killed_after_twilio_accepted_the_call_never_dials_again(
    settings: Settings,
    temporal_client: Client,
    client: httpx.AsyncClient,
    make_tenant: MakeTenant,
    session_factory: async_sessionmaker[AsyncSession],
    sandbox_control: httpx.AsyncClient,
    sandbox_url: str,
) -> None:
    tenant = await make_call_tenant(client, make_tenant, human_answer_mode="message", answer_message="Hello!")
    phone = unique_phone()
    lead_id = await add_lead(session_factory, tenant.tenant.tenant_id, phone=phone)
    await set_persona(sandbox_control, phone, behaviour="human", ring_seconds=0.5)
    call_id = uuid.uuid4()
    workflow_id = call_workflow_id(tenant.tenant.slug, str(lead_id), 1)
    async with session_factory() as session:
        session.add(
            Call(
                id=call_id,
                tenant_id=tenant.tenant.tenant_id,
                lead_id=lead_id,
                attempt_key="1",
                attempt=1,
                workflow_id=workflow_id,
                direction="outbound",
                origin="agent",
                to_number=phone,
                from_number=TENANT_NUMBER,
                callback_token=secrets.token_urlsafe(24),
                status="queued",
                transcript=[],
            )
        )
        await session.commit()

    namespace = await _own_namespace(temporal_client)
    own = await Client.connect(settings.temporal_address, namespace=namespace, data_converter=data_converter(settings))
    env = worker_env(
        settings,
        LEADFLOW_TEMPORAL_NAMESPACE=namespace,
        LEADFLOW_SANDBOX_BASE_URL=sandbox_url,
        LEADFLOW_PUBLIC_BASE_URL=settings.public_base_url,
        LEADFLOW_CALL_PLACE_RECONCILE_POLL_SECONDS="1",
    )
    workers = [WorkerProcess(env), WorkerProcess(env)]
    try:
        await workers[0].start(own)
        fault = await sandbox_control.post(
            "/_sandbox/twilio/faults", json={"kind": "slow_accept", "to": phone, "delay_seconds": 120}
        )
        assert fault.status_code == 201, fault.text
        data = CallWorkflowInput(
            tenant_id=tenant.tenant.tenant_id,
            tenant_slug=tenant.tenant.slug,
            lead_id=lead_id,
            call_id=call_id,
            attempt=1,
            origin="agent",
        )
        handle = await CallWorkflowClient(own).start(data, workflow_id=workflow_id)

        async def dialled() -> list[dict[str, object]]:
            return list((await sandbox_control.get("/_sandbox/twilio/calls", params={"to": phone})).json()["calls"])

        [accepted] = await eventually(dialled, within_seconds=60)
        await workers[0].kill()  # Twilio has the call; the worker never hears its answer

        # The call's first callback (token in its URL) names the SID on the row.
        async def reconciled() -> str | None:
            async with session_factory() as session:
                call = await session.get(Call, call_id)
                return call.provider_sid if call is not None else None

        assert await eventually(reconciled, within_seconds=60) == accepted["sid"]
        await workers[1].start(own)

        async def placed() -> str | None:
            return (await handle.query(CallWorkflow.view)).provider_sid

        assert await eventually(placed, within_seconds=90) == accepted["sid"]
        assert [c["sid"] for c in await dialled()] == [accepted["sid"]]  # dialled once
        await handle.terminate("test over")
    finally:
        for worker in workers:
            await worker.kill()
        await sandbox_control.delete("/_sandbox/twilio/faults")

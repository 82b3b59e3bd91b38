"""Personal data stays out of Temporal's history: the raw history on the server holds no phone number, name or
message body; the Web UI's codec endpoint shows them to a system admin and to nobody else; keys rotate without
breaking payloads written under the old one; payloads written before the codec read as they are."""

import base64
import uuid

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client

from core.config import Settings
from core.payload_codec import ENCODING, KEY_ID, EncryptionCodec, UnknownPayloadKey
from models import Lead
from tests.fixtures.crm import SystemAdminContext, TenantContext
from tests.fixtures.whatsapp import WhatsAppTenant, fresh_phone_digits
from tests.workflows.support import eventually
from workflows.ids import lead_workflow_id


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_payloads_are_encrypted_and_keys_rotate() -> None:
    old, new = EncryptionCodec(["old-secret"]), EncryptionCodec(["new-secret", "old-secret"])
    (sealed,) = await old.encode([_payload("+14155550123")])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == old.key_id.encode()
    assert b"14155550123" not in sealed.SerializeToString()
    assert (await new.decode([sealed])) == [_payload("+14155550123")], "the old key still opens it"
    (resealed,) = await new.encode([_payload("x")])
    assert resealed.metadata[KEY_ID] == new.key_id.encode() != old.key_id.encode()
    with pytest.raises(UnknownPayloadKey, match="LEADFLOW_SECRET_KEY_FALLBACKS"):
        await EncryptionCodec(["new-secret"]).decode([sealed])
    recorded = _payload("from a history recorded before the codec")
    assert await new.decode([recorded]) == [recorded]


async def _raw_history(client: Client, workflow_id: str) -> bytes:
    response = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return response.history.SerializeToString()


@pytest.mark.usefixtures("lead_worker")
async def test_the_history_holds_no_personal_data_and_only_a_system_admin_decodes_it(
    client: httpx.AsyncClient,
    temporal_client: Client,
    wa_tenant: WhatsAppTenant,
    tenant: TenantContext,
    system_admin: SystemAdminContext,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    digits = fresh_phone_digits()
    body_text = f"Do you still have the blue sofa {uuid.uuid4().hex[:6]}?"
    inbound = wa_tenant.meta_body("webhook_inbound_text.json", sender=digits, text=body_text)
    assert (await wa_tenant.post_cloud(client, inbound)).status_code == 200
    async with session_factory() as session:
        lead_id = (await session.execute(select(Lead.id).where(Lead.phone == f"+{digits}"))).scalar_one()
    workflow_id = lead_workflow_id(wa_tenant.slug, str(lead_id))

    async def signalled() -> bytes | None:
        raw = await _raw_history(temporal_client, workflow_id)
        return raw if b"WorkflowExecutionSignaled" in raw or len(raw) > 2000 else None

    raw = await eventually(signalled, within=30)
    assert raw, "the lead workflow never got the message"
    for secret in (digits, body_text.encode().decode(), "Maria Lopez"):
        assert secret.encode() not in raw, f"{secret!r} is readable in the raw history"
    assert ENCODING in raw

    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    started, *_ = history.events
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    payloads = list(started.workflow_execution_started_event_attributes.input.payloads) + [
        payload
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        for payload in event.workflow_execution_signaled_event_attributes.input.payloads
    ]
    assert len(payloads) >= 2
    request = json_format.MessageToDict(Payloads(payloads=payloads))
    ui_origin = settings.temporal_ui_url
    decoded = await client.post("/codec/decode", json=request, headers={**system_admin.headers, "Origin": ui_origin})
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == ui_origin
    plain = b"".join(base64.b64decode(p["data"]) for p in decoded.json()["payloads"])
    # The message body is in the signal; the lead's workflow input carries ids, not the phone number.
    assert body_text.encode() in plain and str(lead_id).encode() in plain

    assert (await client.post("/codec/decode", json=request)).status_code == 401
    owner = await client.post("/codec/decode", json=request, headers=tenant.headers("owner"))
    assert owner.status_code == 403
    elsewhere = await client.post(
        "/codec/decode", json=request, headers={**system_admin.headers, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in elsewhere.headers
    bad = await client.post("/codec/decode", content=b'{"payloads": 3}', headers=system_admin.headers)
    assert bad.status_code == 422

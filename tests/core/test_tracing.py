"""One trace from the API request to the provider call: an agent's message is a server span, the workflow update
the API sends, the workflow's handling of it, the send activity and the WhatsApp call, all with one trace id and each
span's parent inside the trace."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fixtures.crm import TenantContext
from tests.fixtures.whatsapp import add_lead, add_message, sandbox_account

pytestmark = pytest.mark.usefixtures("lead_worker", "worker_uses_sandbox")


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def test_an_agent_message_is_one_connected_trace(
    spans: InMemorySpanExporter,
    client: httpx.AsyncClient,
    tenant: TenantContext,
    session_factory,  # type: ignore[no-untyped-def]
    sandbox_control: httpx.AsyncClient,
) -> None:
    await sandbox_account(client, sandbox_control, tenant.headers())
    lead_id = await add_lead(session_factory, tenant.tenant_id)
    await add_message(session_factory, tenant.tenant_id, lead_id, at=datetime.now(tz=UTC) - timedelta(minutes=5))
    sent = await client.post(
        f"/api/v1/leads/{lead_id}/messages",
        json={"text": "See you Saturday", "request_id": "trace-1"},
        headers={**tenant.headers("agent"), "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"},
    )
    assert sent.status_code == 201, sent.text

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    server = next(
        s
        for s in finished
        if s.name == "POST /api/v1/leads/{lead_id}/messages" and "leadflow.request_id" in (s.attributes or {})
    )
    assert server.context is not None and server.context.trace_id == int("ab" * 16, 16), "the caller's trace goes on"
    assert server.parent is not None and server.parent.span_id == int("cd" * 8, 16)
    in_trace = [s for s in finished if s.context is not None and s.context.trace_id == server.context.trace_id]
    names = [s.name for s in in_trace]
    for expected in ("RunActivity:whatsapp.send_message", "whatsapp.send"):
        assert expected in names, names
    # The API's update-with-start, the workflow's handling of the update, the activity it starts and runs.
    for expected in ("StartUpdateWithStartWorkflow:LeadWorkflow", "HandleUpdate:send_whatsapp_message"):
        assert expected in names, sorted(names)
    assert "StartActivity:whatsapp.send_message" in names
    # Every span hangs off another of the trace, or off the caller's (FastAPI's own request span does too).
    ids = {s.context.span_id for s in in_trace if s.context is not None} | {server.parent.span_id}
    for span in in_trace:
        assert span.parent is not None and span.parent.span_id in ids, f"{span.name} hangs outside the trace"

"""OpenTelemetry traces: an API request, the workflow it starts, signals or updates, the workflow's activities and
their provider calls form one trace.

The API opens a server span per request (api/request_context.py, continuing a caller's `traceparent`); the Temporal
SDK's tracing interceptor (`temporalio.contrib.opentelemetry`, on every client of core/temporal.py and every worker
of worker/main.py) carries the context through workflow headers into the worker; the WhatsApp send opens a client
span around the provider's HTTP call. With `LEADFLOW_OTEL_EXPORTER_OTLP_ENDPOINT` set (an OTLP/HTTP collector,
e.g. `http://otel-collector:4318`), each process exports its spans there in batches; without it, spans go nowhere
and cost next to nothing.
"""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from core.config import Settings


def configure_tracing(settings: Settings, *, service: str) -> TracerProvider | None:
    """Export this process's spans over OTLP when an endpoint is configured; the provider, or None."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"leadflow-{service}"}))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider

"""The Temporal client: connected once per process with the data converter everyone shares (pydantic values,
payloads encrypted by core/payload_codec.py)."""

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import Runtime

from core.config import Settings
from core.payload_codec import data_converter


async def connect_temporal(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """`lazy=True` (the API) defers the connection to first use, so the API starts and reports readiness honestly
    while Temporal is down instead of refusing to boot. `runtime`: the worker's, with its metrics endpoint."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
        runtime=runtime,
        # Traces continue from the caller into workflows and activities (core/tracing.py); workers built on this
        # client inherit the interceptor.
        interceptors=[TracingInterceptor()],
    )

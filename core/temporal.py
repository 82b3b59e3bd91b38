"""The Temporal client: connected once per process with the pydantic data converter everyone shares."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from core.config import Settings


async def connect_temporal(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """`lazy=True` (the API) defers the connection to first use, so the API starts and reports readiness honestly
    while Temporal is down instead of refusing to boot. `runtime`: the worker's, with its metrics endpoint."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
        runtime=runtime,
    )

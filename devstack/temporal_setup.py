"""Prepare a Temporal cluster for Leadflow: the namespace exists, carries every custom search attribute and runs the
sweeper's schedule (workflows/sweep.py).

A Temporal server (unlike the dev server, which takes `--search-attribute` flags) starts without Leadflow's
search attributes, and a plain `temporalio/server` without the namespace either. `python -m devstack bootstrap`
calls this against the configured cluster; it only adds what is missing, so it is safe on every start.
"""

import asyncio
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from workflow_clients.jobs import ensure_sweep_schedule
from workflows import search_attributes

# Applies only when bootstrap creates the namespace; an existing namespace keeps its own retention.
NAMESPACE_RETENTION = timedelta(days=7)


async def connect_when_up(address: str, namespace: str, *, within: float) -> Client:
    """A client of the cluster at `address`, retrying while the server is still starting."""
    deadline = time.monotonic() + within
    while True:
        try:
            client = await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
            await client.service_client.check_health()
            return client
        except Exception as exc:  # the server is not up yet: retry until the deadline
            if time.monotonic() > deadline:
                raise RuntimeError(f"Temporal at {address} did not answer within {within:.0f} s: {exc}") from exc
            await asyncio.sleep(1)


async def ensure_namespace(client: Client, namespace: str, *, within: float = 60) -> bool:
    """Register `namespace` unless it exists; True when it had to be created. Waits until it is usable."""
    created = False
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        retention = Duration()
        retention.FromTimedelta(NAMESPACE_RETENTION)
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)
        )
        created = True
    # A new namespace reaches every frontend through a cache refresh; wait until it is described.
    deadline = time.monotonic() + within
    while True:
        try:
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return created
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def ensure_search_attributes(client: Client, namespace: str, *, within: float = 60) -> list[str]:
    """Add the search attributes of workflows/search_attributes.py that the namespace lacks; returns their names.

    Retries NOT_FOUND for a while: a namespace registered a moment ago reaches the operator service's cache late.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            return await _add_missing_search_attributes(client, namespace)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def _add_missing_search_attributes(client: Client, namespace: str) -> list[str]:
    request = ListSearchAttributesRequest(namespace=namespace)
    existing = (await client.operator_service.list_search_attributes(request)).custom_attributes
    wanted = {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in search_attributes.ALL}
    clashing = [name for name, kind in wanted.items() if name in existing and existing[name] != kind]
    if clashing:
        raise RuntimeError(f"search attributes registered with another type in {namespace!r}: {', '.join(clashing)}")
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    return sorted(missing)


async def prepare_cluster(address: str, namespace: str, *, sweep_every: timedelta, within: float = 120) -> str:
    """Namespace, search attributes and the sweeper's schedule in place; returns a one-line account of what was done."""
    client = await connect_when_up(address, namespace, within=within)
    created = await ensure_namespace(client, namespace)
    added = await ensure_search_attributes(client, namespace)
    scheduled = await ensure_sweep_schedule(client, every=sweep_every)
    parts = [f"namespace {namespace!r} " + ("created" if created else "present")]
    parts.append(f"search attributes added: {', '.join(added)}" if added else "search attributes present")
    parts.append(f"sweeper schedule {'created' if scheduled else 'updated'} (every {sweep_every.total_seconds():g} s)")
    return "; ".join(parts)

"""Helpers of the workflow tests: a time-skipping server, rows written straight through the models (no API), and
bounded polling."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.payload_codec import data_converter as leadflow_data_converter
from models import Lead, Tenant, TimelineEvent, User
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.timeline import TimelineRepository
from tests.fixtures.infra import TEMPORAL_TEST_SERVER
from workflows import search_attributes


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server with Leadflow's search attributes registered, as ops would (it starts without them)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEMPORAL_TEST_SERVER), data_converter=leadflow_data_converter(Settings())
    )
    try:
        keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace, search_attributes={key.name: keyword for key in search_attributes.ALL}
            )
        )
        yield env
    finally:
        await env.shutdown()


T = TypeVar("T")

_phone_counter = iter(range(1_000_000))


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 15.0) -> T:
    """Poll `check` until it returns something truthy or `within` seconds pass; its last value either way.

    For what is eventually consistent by design (visibility) or done by an activity in real time.
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


def server_gave_up(err: RPCError) -> bool:
    """Whether a busy dev server gave up on a call (cancelled, past its deadline, unavailable) rather than refused it:
    the test asks again. Seen in full runs, where one session server serves both xdist workers' stacks."""
    return err.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE)


@dataclass(frozen=True)
class LeadRows:
    tenant: Tenant
    owner: User
    lead: Lead


async def make_tenant(
    session_factory: async_sessionmaker[AsyncSession], *, speed_to_lead_minutes: int = 15
) -> tuple[Tenant, User]:
    """A fresh tenant with the default statuses and one agent who owns its leads."""
    suffix = uuid.uuid4().hex[:10]
    async with session_factory() as session, session.begin():
        tenant = Tenant(slug=f"wf-{suffix}", name=f"Test {suffix}", speed_to_lead_minutes=speed_to_lead_minutes)
        session.add(tenant)
        await session.flush()
        await StatusRepository(session).add_defaults(tenant_id=tenant.id)
        owner = User(tenant_id=tenant.id, email=f"agent-{suffix}@example.test", role="agent", password_hash="-")
        session.add(owner)
        await session.flush()
        await session.refresh(tenant)
    return tenant, owner


async def make_lead(
    session_factory: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    *,
    owner: User | None = None,
    name: str = "Ada Lovelace",
    status_key: str = "new",
    stage: str = "new",
) -> Lead:
    async with session_factory() as session, session.begin():
        lead = await LeadRepository(session).add(
            Lead(
                tenant_id=tenant.id,
                phone=f"+1202555{next(_phone_counter):04d}",
                name=name,
                owner_id=owner.id if owner else None,
                status_key=status_key,
                stage=stage,
                timezone="UTC",
            )
        )
    return lead


async def make_lead_rows(
    session_factory: async_sessionmaker[AsyncSession], *, speed_to_lead_minutes: int = 15, name: str = "Ada Lovelace"
) -> LeadRows:
    tenant, owner = await make_tenant(session_factory, speed_to_lead_minutes=speed_to_lead_minutes)
    lead = await make_lead(session_factory, tenant, owner=owner, name=name)
    return LeadRows(tenant=tenant, owner=owner, lead=lead)


async def read_lead(session_factory: async_sessionmaker[AsyncSession], lead: Lead) -> Lead | None:
    async with session_factory() as session:
        return await LeadRepository(session).get(tenant_id=lead.tenant_id, lead_id=lead.id)


async def read_timeline(session_factory: async_sessionmaker[AsyncSession], lead: Lead) -> list[TimelineEvent]:
    """The lead's timeline, oldest first."""
    async with session_factory() as session:
        events = await TimelineRepository(session).list_for_lead(tenant_id=lead.tenant_id, lead_id=lead.id)
    return list(reversed(events))

"""Helpers of the SequenceWorkflow tests: a time-skipping server with the real worker (sends go to the provider
sandbox over HTTP), a sandbox-backed tenant, leads in chosen countries, published sequences and enrollments.

Everything is written straight through the models (the sequences API is tested on its own); enrollments start
through the SequenceWorkflowClient the API uses.
"""

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.payload_codec import data_converter as leadflow_data_converter
from domain.sequences.definition import SequenceDefinition, parse_definition
from domain.stages import Stage
from models import Enrollment, EnrollmentStep, Lead, Sequence, SequenceVersion, Task, Tenant, TimelineEvent
from repositories.statuses import StatusRepository
from repositories.whatsapp_accounts import WhatsAppAccountRepository
from tests.fixtures.infra import TEMPORAL_TEST_SERVER
from tests.fixtures.sandbox import unique_number
from tests.fixtures.whatsapp import create_whatsapp_tenant
from tests.fixtures.workflow_calls import enrollment_workflows, lead_workflows
from worker.main import build_worker
from workflows import search_attributes
from workflows.sequence import SequenceWorkflow
from workflows.sequence_types import EnrollmentView

# Fictional numbers whose country fixes the zone: +1 212 (New York), +44 20 (London), +972 3 (Israel), +91 22 (India).
ZONE_PREFIXES = {  # prefix, digits after it
    "America/New_York": ("+1212555", 4),
    "Europe/London": ("+44207946", 4),
    "Asia/Jerusalem": ("+97235", 6),
    "Asia/Kolkata": ("+912266", 6),
}
ALL_WEEK = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}


def phone_in(zone: str) -> str:
    return unique_number(*ZONE_PREFIXES[zone])


async def time_skipping_worker(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], sandbox_url: str
) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server with Leadflow's search attributes and the real worker (sends reach the sandbox).

    Recipient pacing is off: skipped days pass in milliseconds of real time, which the pacer would count as bursts.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEMPORAL_TEST_SERVER), data_converter=leadflow_data_converter(Settings())
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL
                },
            )
        )
        config = settings.model_copy(
            update={"sandbox_base_url": sandbox_url, "whatsapp_recipient_min_interval_seconds": 0.0}
        )
        async with build_worker(env.client, config, session_factory):
            yield env
    finally:
        await env.shutdown()


@dataclass
class SequenceWorld:
    """A sandbox-backed tenant and what the tests need to enroll its leads."""

    session_factory: async_sessionmaker[AsyncSession]
    settings: Settings
    sandbox: httpx.AsyncClient
    tenant: Tenant
    status_stages: dict[str, Stage]

    async def lead(self, zone: str = "Europe/London", *, name: str = "Maria Lopez") -> Lead:
        async with self.session_factory() as session:
            lead = Lead(
                tenant_id=self.tenant.id,
                phone=phone_in(zone),
                name=name,
                email="maria@example.com",
                source="api",
                status_key="new",
                stage="new",
                timezone=zone,
                custom_fields={"city": "Lisbon"},
            )
            session.add(lead)
            await session.commit()
            await session.refresh(lead)
            return lead

    async def sequence(self, definition: dict[str, Any], *, versions: int = 1) -> tuple[Sequence, SequenceVersion]:
        """A published sequence; its first version is returned (later versions, if any, hold the same steps)."""
        parsed = parse_definition(definition, status_stages=self.status_stages)
        frozen = parsed.model_dump(mode="json")
        async with self.session_factory() as session:
            sequence = Sequence(
                tenant_id=self.tenant.id,
                name=f"Seq {secrets.token_hex(3)}",
                status="active",
                definition=frozen,
                latest_version=versions,
                has_unpublished_changes=False,
                created_by="user:test",
            )
            session.add(sequence)
            await session.flush()
            first = SequenceVersion(
                tenant_id=self.tenant.id, sequence_id=sequence.id, version=1, definition=frozen, published_by="t"
            )
            session.add(first)
            await session.commit()
            await session.refresh(first)
            await session.refresh(sequence)
            return sequence, first

    async def publish(self, sequence: Sequence, definition: dict[str, Any], version: int) -> SequenceVersion:
        frozen = parse_definition(definition, status_stages=self.status_stages).model_dump(mode="json")
        async with self.session_factory() as session:
            row = SequenceVersion(
                tenant_id=self.tenant.id, sequence_id=sequence.id, version=version, definition=frozen, published_by="t"
            )
            session.add(row)
            await session.commit()
            await session.refresh(row)
            return row

    async def enroll(
        self,
        client: Client,
        lead: Lead,
        sequence: Sequence,
        version: SequenceVersion,
        *,
        with_lead_workflow: bool = True,
        start_at: datetime | None = None,
    ) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
        """The enrollment row, then (as the API does) the lead's workflow and the enrollment's workflow."""
        if with_lead_workflow:
            await lead_workflows(client, self.settings).start(tenant=self.tenant, lead=lead)
        enrollment_id = uuid.uuid4()
        async with self.session_factory() as session:
            enrollment = Enrollment(
                id=enrollment_id,
                tenant_id=self.tenant.id,
                lead_id=lead.id,
                sequence_id=sequence.id,
                sequence_version_id=version.id,
                workflow_id=f"enrollment:{self.tenant.slug}:{enrollment_id}",
                status="active",
                enrolled_by="user:test",
            )
            session.add(enrollment)
            await session.commit()
            await session.refresh(enrollment)
        return await enrollment_workflows(client, self.settings).start(
            tenant=self.tenant,
            lead=lead,
            enrollment=enrollment,
            version=version,
            status_stages=self.status_stages,
            start_at=start_at,
        )

    async def sent_to(self, lead: Lead) -> list[dict[str, Any]]:
        response = await self.sandbox.get("/_sandbox/messages", params={"to": lead.phone})
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def enrollment_row(self, enrollment_id: uuid.UUID) -> Enrollment:
        async with self.session_factory() as session:
            row = await session.get(Enrollment, enrollment_id)
            assert row is not None
            return row

    async def step_rows(self, enrollment_id: uuid.UUID) -> list[EnrollmentStep]:
        async with self.session_factory() as session:
            result = await session.execute(
                select(EnrollmentStep)
                .where(EnrollmentStep.enrollment_id == enrollment_id)
                .order_by(EnrollmentStep.number, EnrollmentStep.fired_at)
            )
            return list(result.scalars())

    async def tasks(self, enrollment_id: uuid.UUID) -> list[Task]:
        async with self.session_factory() as session:
            result = await session.execute(select(Task).where(Task.enrollment_id == enrollment_id))
            return list(result.scalars())

    async def timeline_kinds(self, lead: Lead) -> list[str]:
        async with self.session_factory() as session:
            result = await session.execute(
                select(TimelineEvent.kind).where(TimelineEvent.lead_id == lead.id).order_by(TimelineEvent.occurred_at)
            )
            return list(result.scalars())


async def make_world(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    sandbox: httpx.AsyncClient,
    *,
    tenant_timezone: str = "UTC",
) -> SequenceWorld:
    created = await create_whatsapp_tenant(session_factory, provider="sandbox")
    async with session_factory() as session:
        account = await WhatsAppAccountRepository(session).get_for_tenant(tenant_id=created.id)
        assert account is not None
        token = created.access_token  # as given; the row holds it sealed
        tenant = await session.get(Tenant, created.id)
        assert tenant is not None
        tenant.timezone = tenant_timezone
        statuses = await StatusRepository(session).list(tenant_id=created.id)
        await session.commit()
        await session.refresh(tenant)
    registered = await sandbox.post(
        "/_sandbox/accounts/cloud",
        json={"phone_number_id": created.phone_number_id, "access_token": token, "app_secret": created.app_secret},
    )
    assert registered.status_code == 201, registered.text
    return SequenceWorld(
        session_factory=session_factory,
        settings=settings,
        sandbox=sandbox,
        tenant=tenant,
        status_stages={s.key: Stage(s.stage) for s in statuses},
    )


def definition_of(version: SequenceVersion) -> SequenceDefinition:
    return SequenceDefinition.model_validate(version.definition)

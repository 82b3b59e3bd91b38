"""Helpers of the SequenceWorkflow tests: a time-skipping server with the real worker (sends go to the provider
sandbox over HTTP), a sandbox-backed tenant, leads in chosen countries, published sequences and enrollments.

Everything is written straight through the models (the sequences API is tested on its own); enrollments start
through the SequenceWorkflowClient the API uses.
"""

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.services.api_keys import create_api_key
from core.config import Settings
from core.queues import SEQUENCES_QUEUE
from domain.permissions import Role
from domain.sequences.definition import SequenceDefinition, parse_definition
from domain.stages import Stage
from domain.whatsapp_messages import InboundWhatsAppMessage
from models import Enrollment, EnrollmentStep, Lead, Sequence, SequenceVersion, Task, Tenant, TimelineEvent
from repositories.statuses import StatusRepository
from tests.fixtures.sandbox import unique_number
from tests.fixtures.whatsapp import add_message, create_sandbox_tenant, eventually, fresh_wamid
from tests.fixtures.workflow_calls import enrollment_workflows, lead_workflows
from tests.workflows.support import time_skipping_server
from worker.main import build_worker
from workflows.lead import LeadWorkflow
from workflows.lead_types import LeadView
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


def all_week(*steps: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """A sequence of `steps`, open all week; `settings`: its other settings."""
    return {"steps": list(steps), "settings": {"business_hours": ALL_WEEK, **settings}}


def two_sends(wait: dict[str, int], *, first: str = "intro", **settings: Any) -> dict[str, Any]:
    """A sequence of two sends (`first`, then `follow_up`) with a wait between them, open all week."""
    return all_week(
        {"type": "send_whatsapp", "template": {"name": first}},
        {"type": "wait", "duration": wait},
        {"type": "send_whatsapp", "template": {"name": "follow_up"}},
        **settings,
    )


def hello_capped_at(per_day: int) -> dict[str, Any]:
    """One send (`hello`), open all week, under a daily WhatsApp cap of `per_day`."""
    return all_week(
        {"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}}, daily_cap={"whatsapp": per_day}
    )


def inbound(body: str, **details: Any) -> InboundWhatsAppMessage:
    """A message from the lead as the Cloud API webhook delivers it, just now."""
    return InboundWhatsAppMessage(
        provider="cloud", provider_message_id=fresh_wamid(), body=body, received_at=datetime.now(UTC), **details
    )


async def lead_writes(client: Client, world: "SequenceWorld", lead: Lead, body: str) -> datetime:
    """The reply path of the dispatcher: the inbound message stored (with the conversation's stop record), then told
    to the lead's workflow. Returns when it was received."""
    received_at = datetime.now(UTC)
    wamid = fresh_wamid()
    message_id = await add_message(
        world.session_factory, world.tenant.id, lead.id, body=body, at=received_at, provider_message_id=wamid
    )
    handle = client.get_workflow_handle(f"lead:{world.tenant.slug}:{lead.id}")
    await handle.signal(
        LeadWorkflow.record_inbound_message,
        InboundWhatsAppMessage(
            provider="sandbox", provider_message_id=wamid, message_id=str(message_id), body=body,
            received_at=received_at,
        ),
    )  # fmt: skip
    return received_at


async def agent_headers(world: "SequenceWorld") -> dict[str, str]:
    """An agent's API key of the world's tenant, as request headers."""
    async with world.session_factory() as session:
        _, key = await create_api_key(
            session, tenant_id=world.tenant.id, name="agent", role="agent", creator_role=Role.OWNER, created_by_id=None
        )
        await session.commit()
    return {"Authorization": f"Bearer {key}"}


def phone_in(zone: str) -> str:
    return unique_number(*ZONE_PREFIXES[zone])


async def time_skipping_worker(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], sandbox_url: str
) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server with the real worker (sends reach the sandbox).

    Recipient pacing is off: skipped days pass in milliseconds of real time, which the pacer would count as bursts.
    """
    config = settings.model_copy(
        update={"sandbox_base_url": sandbox_url, "whatsapp_recipient_min_interval_seconds": 0.0}
    )
    async with time_skipping_server() as env, build_worker(env.client, config, session_factory):
        yield env


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
        task_queue: str = SEQUENCES_QUEUE,
    ) -> WorkflowHandle[SequenceWorkflow, EnrollmentView]:
        """The enrollment row, then (as the API does) the lead's workflow and the enrollment's workflow (on
        `task_queue`, the bulk queue unless a test names its own)."""
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
            task_queue=task_queue,
        )

    async def enroll_after_first_send(
        self, client: Client, sequence: Sequence, version: SequenceVersion
    ) -> tuple[Lead, WorkflowHandle[SequenceWorkflow, EnrollmentView]]:
        """A new lead enrolled, once the sequence's first message has reached it."""
        lead = await self.lead()
        handle = await self.enroll(client, lead, sequence, version)
        await eventually(lambda: self.sent_to(lead))
        return lead, handle

    async def lead_workflow_knowing(
        self, client: Client, lead: Lead, enrollment: WorkflowHandle
    ) -> WorkflowHandle[LeadWorkflow, LeadView]:
        """The lead's workflow, once it knows the enrollment (or the wait for that ran out)."""
        handle = client.get_workflow_handle_for(LeadWorkflow.run, f"lead:{self.tenant.slug}:{lead.id}")

        async def knows() -> bool:
            return enrollment.id in (await handle.query(LeadWorkflow.view)).active_enrollments

        await eventually(knows)
        return handle

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
    created = await create_sandbox_tenant(session_factory, sandbox)
    async with session_factory() as session:
        tenant = await session.get(Tenant, created.id)
        assert tenant is not None
        tenant.timezone = tenant_timezone
        statuses = await StatusRepository(session).list(tenant_id=created.id)
        await session.commit()
        await session.refresh(tenant)
    return SequenceWorld(
        session_factory=session_factory,
        settings=settings,
        sandbox=sandbox,
        tenant=tenant,
        status_stages={s.key: Stage(s.stage) for s in statuses},
    )


def definition_of(version: SequenceVersion) -> SequenceDefinition:
    return SequenceDefinition.model_validate(version.definition)

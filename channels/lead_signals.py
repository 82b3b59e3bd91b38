"""Telling a lead's workflow about an inbound event a channel stored: the step every channel shares.

A channel's inbound handler stores the event in the CRM, commits, and hands `deliver_signals` one `LeadSignal` per
event the lead's workflow must hear of. Each is sent with signal-with-start (a lead without a running workflow, new
or ended, gets a fresh run from its committed row), then its `webhook_event` row is marked signalled. When Temporal
cannot be reached this raises ServiceUnavailable: the dispatcher tries the inbox event again later, the channel
recognises the repeat as stored-but-unsignalled, and the signal goes out then.

Consecutive messages of one lead (a run the dispatcher handled together) go out as one `record_inbound_messages`
signal: one signal-with-start and one workflow task for the burst instead of one each.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.config import Settings
from core.errors import ServiceUnavailable
from domain.stages import Stage
from domain.whatsapp_messages import InboundWhatsAppMessage, InboundWhatsAppMessages, WhatsAppProviderOptOut
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from repositories.webhook_events import WebhookEventRepository
from workflow_clients.lead import LeadWorkflowClient
from workflows.lead_types import LeadInboundSignal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeadSignal:
    """One stored inbound event for its lead's workflow: which event and lead, and the signal to send it."""

    webhook_event_id: uuid.UUID
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    signal: LeadInboundSignal


def opts_out(signal: LeadInboundSignal) -> bool:
    """Whether the signal moves the lead to its tenant's opted-out status (the workflow needs that status's key)."""
    if isinstance(signal, InboundWhatsAppMessage):
        return signal.opt_out
    if isinstance(signal, InboundWhatsAppMessages):
        return any(message.opt_out for message in signal.messages)
    return isinstance(signal, WhatsAppProviderOptOut)


async def deliver_signals(
    *, session: AsyncSession, temporal: Client, signals: Sequence[LeadSignal], settings: Settings
) -> None:
    """Signal each event to its lead's workflow (signal-with-start), then mark it signalled. Runs after the commit
    that stored the events."""
    delivered: list[uuid.UUID] = []
    try:
        for signal, event_ids in coalesced(signals):
            await signal_lead(session=session, temporal=temporal, signal=signal, settings=settings)
            delivered += event_ids
    except Exception as exc:
        log.warning("signalling a lead workflow failed: %s", exc)
        raise ServiceUnavailable(
            "the event was stored but its lead workflow could not be signalled; it is tried again",
            headers={"Retry-After": "5"},
        ) from None
    finally:
        if delivered:
            await WebhookEventRepository(session).mark_signalled(event_ids=delivered)
            await session.commit()


def coalesced(signals: Sequence[LeadSignal]) -> list[tuple[LeadSignal, list[uuid.UUID]]]:
    """The signals to send, each with the webhook events it tells of: consecutive messages of the same lead become
    one `InboundWhatsAppMessages`; everything else goes out as it is, in order."""
    groups: list[list[LeadSignal]] = []
    for signal in signals:
        if groups and _is_message(signal) and _is_message(groups[-1][-1]) and groups[-1][-1].lead_id == signal.lead_id:
            groups[-1].append(signal)
        else:
            groups.append([signal])
    return [(_merged(group), [s.webhook_event_id for s in group]) for group in groups]


def _is_message(signal: LeadSignal) -> bool:
    return isinstance(signal.signal, InboundWhatsAppMessage)


def _merged(group: list[LeadSignal]) -> LeadSignal:
    first = group[0]
    if len(group) == 1:
        return first
    messages = [s.signal for s in group if isinstance(s.signal, InboundWhatsAppMessage)]  # all of them (narrowed)
    return LeadSignal(
        webhook_event_id=first.webhook_event_id,
        tenant_id=first.tenant_id,
        lead_id=first.lead_id,
        signal=InboundWhatsAppMessages(messages=messages),
    )


async def signal_lead(*, session: AsyncSession, temporal: Client, signal: LeadSignal, settings: Settings) -> None:
    """Signal-with-start: the lead's running workflow gets the signal; a lead without one (new, or ended) gets a
    fresh run from its committed row, which then receives it."""
    # Usually still in the session's identity map from storing the event: no query.
    tenant = await TenantRepository(session).get(signal.tenant_id)
    lead = await LeadRepository(session).by_id(signal.lead_id)
    if tenant is None or lead is None or lead.tenant_id != tenant.id:
        return  # deleted since: nothing left to tell
    payload = signal.signal
    if opts_out(payload):
        statuses = await StatusRepository(session).list(tenant_id=tenant.id)
        opt_out_status_key = next((s.key for s in statuses if s.stage == Stage.OPTED_OUT), None)
        payload = payload.model_copy(update={"opt_out_status_key": opt_out_status_key})
    # A fresh run (the lead's earlier one ended, e.g. won) must still tell the lead's running enrollments.
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    await LeadWorkflowClient(temporal, settings).signal_with_start(
        tenant=tenant,
        lead=lead,
        signal=payload.signal,
        arg=payload,
        active_enrollments=enrollments,
    )
    if lead.workflow_started_at is None:  # a lead this event created: its workflow runs now (the sweeper skips it)
        await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])

"""Twilio's call callbacks: into webhook inbox rows (API side), and what the dispatcher does with one.

Keys: a status callback is `status:<CallSid>:<CallStatus>:<SequenceNumber>`, the AMD result `amd:<CallSid>`, a
dial result `dial:<CallSid>:<DialCallStatus>`, a recording `recording:<RecordingSid>`: a redelivered callback hits
the inbox's unique key and stores nothing. Events of one call share an order key, so they are handled in arrival
order, and each is applied forward-only anyway (callbacks may arrive out of order from Twilio itself).

Handling one event: the row first (the attempt's SID when not known yet: the reconciliation a re-run of the
placement waits for; the status if later than the stored one; the AMD result; the recording), then the slot of a
call that is over (channels/voice/slots.py), then the live state, then the signal to the call's workflow, then the
calls waiting for the freed slot are woken.
"""

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from channels.voice.capacity import Waiter
from channels.voice.live import LiveCalls
from channels.voice.slots import SlotWaker
from core.errors import ServiceUnavailable
from domain.calls import TERMINAL_STATUSES
from models import Call, WebhookInbox
from repositories.calls import CallRepository
from workflows.call_types import (
    PROVIDER_EVENT_SIGNAL,
    AnsweredByEvent,
    CallStatusEvent,
    DialEvent,
    ProviderEvent,
    ProviderEventEnvelope,
    RecordingEvent,
)

log = logging.getLogger(__name__)

PROVIDER = "twilio"
_EVENT = TypeAdapter[ProviderEvent](ProviderEvent)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def status_event(params: Mapping[str, str]) -> CallStatusEvent:
    return CallStatusEvent(
        call_sid=params.get("CallSid", ""),
        status=params.get("CallStatus", ""),
        sequence_number=_int(params.get("SequenceNumber")) or 0 if params.get("SequenceNumber") else -1,
        duration_seconds=_int(params.get("CallDuration")),
        at=_at(params.get("Timestamp")),
    )


def amd_event(params: Mapping[str, str]) -> AnsweredByEvent:
    return AnsweredByEvent(call_sid=params.get("CallSid", ""), answered_by=params.get("AnsweredBy", "unknown"))


def dial_event(params: Mapping[str, str]) -> DialEvent:
    return DialEvent(call_sid=params.get("CallSid", ""), dial_status=params.get("DialCallStatus", ""))


def recording_event(params: Mapping[str, str]) -> RecordingEvent:
    return RecordingEvent(
        call_sid=params.get("CallSid", ""),
        recording_sid=params.get("RecordingSid", ""),
        recording_url=params.get("RecordingUrl", ""),
        duration_seconds=_int(params.get("RecordingDuration")),
    )


def event_key(event: CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent) -> str:
    if isinstance(event, CallStatusEvent):
        return f"status:{event.call_sid}:{event.status}:{event.sequence_number}"
    if isinstance(event, AnsweredByEvent):
        return f"amd:{event.call_sid}"
    if isinstance(event, DialEvent):
        return f"dial:{event.call_sid}:{event.dial_status}"
    return f"recording:{event.recording_sid}"


def inbox_row(
    *, call: Call, account_sid: str, event: CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent, raw: Any
) -> dict[str, Any]:
    return {
        "provider": PROVIDER,
        "account_id": account_sid[:100],
        "event_key": event_key(event)[:300],
        "order_key": f"{PROVIDER}:{call.id}",
        "kind": f"call_{event.kind}",
        "tenant_id": call.tenant_id,
        "event": {"call_id": str(call.id), **event.model_dump(mode="json")},
        "raw": raw,
    }


class VoiceInbound:
    """The voice channel's inbound side for the dispatcher (channels/channel.py `InboundHandler`)."""

    inbox_providers: tuple[str, ...] = (PROVIDER,)

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        temporal: Client,
        live: LiveCalls | None,
        slots: SlotWaker | None = None,
    ) -> None:
        self._sessions = session_factory
        self._temporal = temporal
        self._live = live
        self._slots = slots

    async def handle(self, row: WebhookInbox) -> None:
        await handle_inbox_event(
            row, session_factory=self._sessions, temporal=self._temporal, live=self._live, slots=self._slots
        )


async def handle_inbox_event(
    row: WebhookInbox,
    *,
    session_factory: async_sessionmaker[AsyncSession],
    temporal: Client,
    live: LiveCalls | None,
    slots: SlotWaker | None = None,
) -> None:
    """Apply one stored callback to its call's row, live state and workflow; raises to be retried. A call Twilio
    reports over frees its slot here and now, before its workflow hears of it: the next call waiting for the slot
    need not wait for the ended call's workflow task."""
    data = dict(row.event)
    call_id = data.pop("call_id")
    event = _EVENT.validate_python(data)
    async with session_factory() as session:
        calls = CallRepository(session)
        call = await calls.get(call_id)
        if call is None:
            log.warning("callback for unknown call %s ignored", call_id)
            return
        if call.provider_sid is None and event.call_sid:
            await calls.store_provider_sid(call_id=call.id, provider_sid=event.call_sid)
        elif call.provider_sid and event.call_sid and event.call_sid != call.provider_sid:
            log.warning("call %s: callback of another call SID %s ignored", call.id, event.call_sid)
            await session.commit()
            return
        moved = False
        if isinstance(event, CallStatusEvent):
            moved = await calls.apply_status(
                call_id=call.id, status=event.status, at=event.at, duration_seconds=event.duration_seconds
            )
        elif isinstance(event, AnsweredByEvent):
            await calls.set_answered_by(call_id=call.id, answered_by=event.answered_by)
        elif isinstance(event, RecordingEvent):
            await calls.set_recording(
                call_id=call.id,
                recording_sid=event.recording_sid,
                recording_url=event.recording_url,
                duration_seconds=event.duration_seconds,
            )
        await session.commit()
        workflow_id, tenant_id, lead_id = call.workflow_id, call.tenant_id, call.lead_id
        agent_id, direction, call_uuid = call.agent_id, call.direction, call.id
    over = isinstance(event, CallStatusEvent) and event.status in TERMINAL_STATUSES and direction == "outbound"
    waiters = await _free_slot(slots, tenant_id=tenant_id, call_id=call_uuid) if slots and over else ()
    try:
        if live is not None and moved and isinstance(event, CallStatusEvent):
            await live.update(
                tenant_id=tenant_id,
                call_id=call_id,
                lead_id=lead_id,
                status=event.status,
                agent_id=agent_id,
                direction=direction,
            )
        await _tell(event, workflow_id=workflow_id, call_id=call_id, temporal=temporal)
    finally:
        if slots is not None and waiters:
            await _wake(slots, waiters)


async def _free_slot(slots: SlotWaker, *, tenant_id: uuid.UUID, call_id: uuid.UUID) -> tuple[Waiter, ...]:
    """The ended call's slot, freed now; the waiters to wake once the workflow has its signal. Redis away: the
    workflow's own release at its end frees it."""
    try:
        return await slots.capacity.release(tenant_id=tenant_id, call_id=call_id)
    except Exception as exc:
        log.warning("call %s: slot not freed at its end callback (its workflow frees it): %s", call_id, exc)
        return ()


async def _wake(slots: SlotWaker, waiters: tuple[Waiter, ...]) -> None:
    try:
        await slots.wake(waiters)
    except Exception as exc:
        log.warning("waking %d calls for freed slots failed (their fallback question covers it): %s", len(waiters), exc)


async def _tell(
    event: CallStatusEvent | AnsweredByEvent | DialEvent | RecordingEvent,
    *,
    workflow_id: str,
    call_id: str,
    temporal: Client,
) -> None:
    try:
        await temporal.get_workflow_handle(workflow_id).signal(
            PROVIDER_EVENT_SIGNAL, ProviderEventEnvelope(event=event)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # The workflow ended (its disposition window passed) or never started: the row holds what happened.
            log.info("call %s: workflow %s not running, callback kept on the row only", call_id, workflow_id)
            return
        raise ServiceUnavailable(f"Temporal refused the signal to {workflow_id}: {exc}") from exc

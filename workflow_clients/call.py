"""Starting, updating and reading the CallWorkflow from outside Temporal (the API: click-to-call, voice turns,
dispositions, inbound calls; later sequence steps and the AI agent's callbacks). Start it after the transaction that
wrote the call row committed.

Failures read as errors a person can act on (workflow_clients/errors.py): a voice turn of a call that ended is 409
(CallNotLive); a workflow that is not running is 404 (never started) or 409 (closed).
"""

import asyncio
import logging
import uuid
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from core.queues import LEADS_QUEUE, WORKFLOW_START_TIMEOUT
from workflow_clients.errors import WorkflowCall, translated
from workflows import search_attributes
from workflows.call import CallWorkflow
from workflows.call_types import (
    CALLER_SAID_UPDATE,
    SET_DISPOSITION_UPDATE,
    SLOT_MAY_BE_FREE_SIGNAL,
    CallerUtterance,
    CallView,
    CallWorkflowInput,
    DispositionRequest,
    VoiceReply,
)

logger = logging.getLogger(__name__)

# A wake-up is a hint (the woken call asks again, and waiters ask on their own after a while): it never waits long.
WAKE_TIMEOUT = timedelta(seconds=5)
# Twilio waits 15 s for the TwiML of a turn: the workflow's answer must come well inside it.
TURN_TIMEOUT = timedelta(seconds=8)
DISPOSITION_TIMEOUT = timedelta(seconds=10)


def call_search_attributes(data: CallWorkflowInput, status: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.TENANT_ID, str(data.tenant_id)),
            SearchAttributePair(search_attributes.LEAD_ID, str(data.lead_id)),
            SearchAttributePair(search_attributes.CALL_STATUS, status),
            SearchAttributePair(search_attributes.CALL_DISPOSITION, ""),
        ]
    )


def _call(call_id: uuid.UUID) -> WorkflowCall:
    return WorkflowCall(workflow="the call's workflow", entity=f"call {call_id}", details={"call_id": str(call_id)})


class CallWorkflowClient:
    """One call attempt's workflow (id `call:{tenant_slug}:{lead_id}:{attempt}`)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def start(self, data: CallWorkflowInput, *, workflow_id: str) -> WorkflowHandle[CallWorkflow, CallView]:
        """Start the attempt's workflow, or return the running one: a retried request never places a second call."""
        status = "in-progress" if data.direction == "inbound" else "queued"
        async with translated(_call(data.call_id)):
            return await self.client.start_workflow(
                CallWorkflow.run,
                data,
                id=workflow_id,
                task_queue=LEADS_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=call_search_attributes(data, status),
                static_summary=f"{data.direction} call, attempt {data.attempt}",
                rpc_timeout=WORKFLOW_START_TIMEOUT,
            )

    async def caller_said(self, *, workflow_id: str, call_id: uuid.UUID, utterance: CallerUtterance) -> VoiceReply:
        handle = self.client.get_workflow_handle(workflow_id)
        async with translated(_call(call_id), handle=handle):
            return await handle.execute_update(
                CALLER_SAID_UPDATE, utterance, result_type=VoiceReply, rpc_timeout=TURN_TIMEOUT
            )

    async def set_disposition(self, *, workflow_id: str, call_id: uuid.UUID, request: DispositionRequest) -> CallView:
        handle = self.client.get_workflow_handle(workflow_id)
        async with translated(_call(call_id), handle=handle):
            return await handle.execute_update(
                SET_DISPOSITION_UPDATE, request, result_type=CallView, rpc_timeout=DISPOSITION_TIMEOUT
            )

    async def wake(self, workflow_ids: list[str]) -> tuple[list[str], list[str]]:
        """Tell calls waiting for a slot that one may be free (channels/voice/capacity.py names them). Answers the
        workflows that are gone (ended, terminated), whose places in line the caller frees, and those not reached
        (any other failure), which the caller marks as not woken so the next release tries them again."""
        woken = await asyncio.gather(*(self._wake(workflow_id) for workflow_id in workflow_ids))
        gone = [workflow_id for workflow_id, alive in zip(workflow_ids, woken, strict=True) if alive is False]
        unreached = [workflow_id for workflow_id, alive in zip(workflow_ids, woken, strict=True) if alive is None]
        return gone, unreached

    async def _wake(self, workflow_id: str) -> bool | None:
        """True: signalled; False: the workflow is gone; None: not reached."""
        try:
            await self.client.get_workflow_handle(workflow_id).signal(SLOT_MAY_BE_FREE_SIGNAL, rpc_timeout=WAKE_TIMEOUT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            logger.warning("call slot wake-up of %s not sent: %s", workflow_id, error)
            return None
        return True

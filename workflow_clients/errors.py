"""The one place Temporal's failures become the application's errors (core/errors.py, an HTTP status each).

Every workflow client call runs inside `translated(call)`:
- an update the workflow refused with a failure type of `REFUSALS` (workflows/failures.py, the WhatsApp send
  refusals): that error, with the workflow's own message and `details.reason`; a lead that is gone: 404;
- any other failed update: 503, not applied;
- no answer within the call's timeout: 503 (the change may still apply, so the caller checks before resending);
- a workflow that was never started: 404, or 409 when it ran and has ended (an update to a closed workflow);
- Temporal unreachable, refusing, or never connected (the lazy client): 503 with Retry-After.
"""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import (
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import AppError, Conflict, NotFound, ServiceUnavailable, Unprocessable
from domain import whatsapp_messages as sends
from workflows.failures import WorkflowFailure

RETRY_AFTER = {"Retry-After": "5"}
# An update-with-start that reached a closed workflow: tell "ended" (409) from "never started" (404) within this.
DESCRIBE_WITHIN = timedelta(seconds=10)
# The lazy client (core/temporal.py) of an API started while Temporal was down raises this until it connects.
CONNECT_FAILURE = "Failed client connect"

# A refusal the workflow answers with, and how it reads over HTTP: what the person should do differs by cause.
REFUSALS: Mapping[str, type[AppError]] = {
    WorkflowFailure.INVALID_TRANSITION: Conflict,
    WorkflowFailure.ENROLLMENT_NOT_ACTIVE: Conflict,
    WorkflowFailure.TASK_NOT_OPEN: Conflict,
    WorkflowFailure.INVALID_INPUT: Unprocessable,
    WorkflowFailure.AI_DRAFT_NOT_PENDING: Conflict,
    WorkflowFailure.AI_DRAFT_NOT_SENT: Conflict,
    WorkflowFailure.CALL_NOT_LIVE: Conflict,
    sends.LEAD_OPTED_OUT: Conflict,
    sends.RECIPIENT_OPTED_OUT: Conflict,
    sends.WINDOW_CLOSED: Conflict,
    sends.NOT_CONFIGURED: Conflict,
    sends.UNDELIVERABLE: Unprocessable,
    sends.SEND_REJECTED: Unprocessable,
}


@dataclass(frozen=True)
class WorkflowCall:
    """What a call to a workflow is about, so that its failures read as sentences a person can act on."""

    workflow: str  # "the lead's workflow"
    entity: str  # "lead 0b7c…": what is not found
    details: Mapping[str, Any] = field(default_factory=dict)
    not_applied: str = "the change was not applied"  # an update that failed for another reason
    if_unanswered: str = "the change may still apply, so check before sending it again"
    if_unreachable: str = "try again"
    if_never_started: str = ""  # appended to "<entity> has no workflow"


def refusal(cause: BaseException | None, call: WorkflowCall) -> AppError:
    """The error of an update its workflow refused (the validator's or the handler's ApplicationError)."""
    if isinstance(cause, ApplicationError) and cause.type == WorkflowFailure.LEAD_GONE:
        return NotFound(f"{call.entity} not found", details=dict(call.details))
    if isinstance(cause, ApplicationError) and cause.type is not None and cause.type in REFUSALS:
        return REFUSALS[cause.type](cause.message, details={**call.details, "reason": cause.type})
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return ServiceUnavailable(f"{call.not_applied}: {message}", details=dict(call.details), headers=RETRY_AFTER)


def unreachable(call: WorkflowCall) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"{call.workflow} could not be reached; {call.if_unreachable}", details=dict(call.details), headers=RETRY_AFTER
    )


@asynccontextmanager
async def translated(call: WorkflowCall, *, handle: WorkflowHandle[Any, Any] | None = None) -> AsyncIterator[None]:
    """Run one Temporal call, turning its failures into AppErrors. `handle`: the workflow an update goes to, so a
    NOT_FOUND can tell an ended workflow (409) from one that never ran (404)."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc.cause, call) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        # Not an RPCError: the update may still run.
        raise ServiceUnavailable(
            f"{call.workflow} did not answer in time; {call.if_unanswered}",
            details=dict(call.details),
            headers=RETRY_AFTER,
        ) from exc
    except WorkflowQueryFailedError as exc:
        raise ServiceUnavailable(
            f"{call.workflow} could not answer: {exc.message}", details=dict(call.details)
        ) from exc
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise unreachable(call) from exc
        if handle is not None and await _has_ended(handle):
            raise Conflict(f"{call.entity} already ended; it can no longer change", details=dict(call.details)) from exc
        raise NotFound(f"{call.entity} has no workflow{call.if_never_started}", details=dict(call.details)) from exc
    except RuntimeError as exc:
        if not str(exc).startswith(CONNECT_FAILURE):
            raise
        raise unreachable(call) from exc


def is_not_found(error: BaseException) -> bool:
    """Whether a translated error says the workflow does not exist (never started, or closed and forgotten)."""
    return isinstance(error, NotFound) and isinstance(error.__cause__, RPCError)


async def _has_ended(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        description = await handle.describe(rpc_timeout=DESCRIBE_WITHIN)
    except RPCError:
        return False
    return description.close_time is not None

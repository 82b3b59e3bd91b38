"""What every workflow shares: the frozen base of its payloads, the opt-out key a send refusal names, when a run
continues as new, and local activities that fail as activities do. Pure apart from `temporalio.workflow`: passed
through the sandbox like the types modules."""

from datetime import timedelta
from typing import Any, TypeVar, Unpack, overload

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from core.queues import ActivityOptions
from domain.stages import Stage


class FrozenModel(BaseModel):
    # Unknown fields are ignored: a payload in a running workflow's history must decode after a deploy or rollback.
    model_config = ConfigDict(frozen=True, extra="ignore")


def opt_out_status_key(error: ApplicationError) -> str:
    """The tenant's opted-out status key the send activity looked up (details[0]), else the default key."""
    try:
        details = error.details[0] if error.details else None
    except Exception:  # details that cannot be decoded: fall back to the default key
        details = None
    return opt_out_status_key_in(details)


def opt_out_status_key_in(details: object) -> str:
    """The opted-out status key in a send refusal's first detail, else the default key."""
    key = details.get("opt_out_status_key") if isinstance(details, dict) else None
    return key if isinstance(key, str) and key else Stage.OPTED_OUT.value


def should_continue_as_new(max_history_events: int) -> bool:
    """The history reached `max_history_events`, or the server suggests starting afresh."""
    info = workflow.info()
    return info.get_current_history_length() >= max_history_events or info.is_continue_as_new_suggested()


_Result = TypeVar("_Result")

# A local activity's retries past this backoff wait on a durable timer, in a workflow task of their own.
LOCAL_RETRY_THRESHOLD = timedelta(seconds=5)


@overload
async def run_local_activity(
    name: str, arg: object, *, result_type: type[_Result], **options: Unpack[ActivityOptions]
) -> _Result: ...


@overload
async def run_local_activity(
    name: str, arg: object, *, result_type: None = None, **options: Unpack[ActivityOptions]
) -> None: ...


async def run_local_activity(
    name: str, arg: object, *, result_type: type | None = None, **options: Unpack[ActivityOptions]
) -> Any:
    """`workflow.execute_local_activity`, failing as an activity does: `ActivityError`, the activity's error its cause.

    The SDK raises the error a local activity gave up on (non-retryable, or its attempts used up) bare, as the
    `ApplicationError` itself, where an activity's comes wrapped in `ActivityError`; a workflow written for the
    wrapped form would let the bare one fail the whole run. Timeouts already come wrapped.

    Retries wait inside the worker only while the backoff is short (`LOCAL_RETRY_THRESHOLD`); longer ones are durable
    timers. Otherwise an outage (the database away for minutes under `DB_RETRY`) would hold the workflow task open,
    heartbeating it into the history every few seconds, and a worker restart would start the backoff over."""
    try:
        return await workflow.execute_local_activity(
            name, arg, result_type=result_type, local_retry_threshold=LOCAL_RETRY_THRESHOLD, **options
        )
    except ApplicationError as err:
        raise ActivityError(
            f"local activity {name} failed",
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=name,
            activity_id="",
            retry_state=None,
        ) from err

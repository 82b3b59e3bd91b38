"""What every workflow shares: the frozen base of its payloads, the opt-out key a send refusal names, and when a run
continues as new. Pure apart from `temporalio.workflow`: passed through the sandbox like the types modules."""

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.exceptions import ApplicationError

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
    key = details.get("opt_out_status_key") if isinstance(details, dict) else None
    return key if isinstance(key, str) and key else Stage.OPTED_OUT.value


def should_continue_as_new(max_history_events: int) -> bool:
    """The history reached `max_history_events`, or the server suggests starting afresh."""
    info = workflow.info()
    return info.get_current_history_length() >= max_history_events or info.is_continue_as_new_suggested()

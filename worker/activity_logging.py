"""Each activity run's log context, its one log line, and its failure count by kind (core/activity_metrics.py).

The interceptor binds core/log_context.py's ids for the run (workflow and run id, activity type, and the tenant and
lead ids of the activity's input when it has them), so every line logged inside carries them, then logs one line:
the outcome and the duration. It logs ids only; the input itself (names, numbers, message bodies) is never logged.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.activity_metrics import record_activity_failure
from core.log_context import bound

log = logging.getLogger("worker.activity")


def input_ids(args: Sequence[Any]) -> dict[str, Any]:
    """`tenant_id` and `lead_id` of the activity's first argument (a pydantic model or dataclass), if it has them."""
    if not args:
        return {}
    first = args[0]
    return {name: getattr(first, name, None) for name in ("tenant_id", "lead_id")}


def error_kind(exc: BaseException) -> tuple[str, bool]:
    """The failure's kind (an `ApplicationError`'s type, else the exception class) and whether Temporal retries it."""
    if isinstance(exc, ApplicationError):
        return exc.type or "ApplicationError", not exc.non_retryable
    return type(exc).__name__, True


class _LoggingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        ids = input_ids(input.args)
        with bound(workflow_id=info.workflow_id, run_id=info.workflow_run_id, activity=info.activity_type, **ids):
            started = time.perf_counter()
            outcome = "failed"
            try:
                result = await self.next.execute_activity(input)
                outcome = "completed"
                return result
            except BaseException as exc:
                kind, retryable = error_kind(exc)
                outcome = f"failed: {kind}"
                record_activity_failure(error_kind=kind, retryable=retryable)
                raise
            finally:
                fields = {
                    "outcome": outcome.partition(":")[0],
                    "attempt": info.attempt,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
                level = logging.INFO if outcome == "completed" else logging.WARNING
                log.log(level, "activity %s %s", info.activity_type, outcome, extra={"fields": fields})


class ActivityLoggingInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LoggingActivityInbound(next)

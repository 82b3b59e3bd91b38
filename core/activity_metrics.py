"""Business metrics recorded by activities, through the Temporal runtime's metric meter.

They are served with the SDK's own metrics on the worker's Prometheus endpoint (worker/telemetry.py) and carry the
meter's labels (`namespace`, `task_queue`, `activity_type`) besides their own. Outside an activity, or with a
runtime without metrics, recording does nothing. Labels stay bounded: channel, outcome, error kind.

| metric | labels | recorded by |
|---|---|---|
| `leadflow_sends_total` | `channel`, `outcome` (`sent`, `duplicate`, a refusal or deferral kind) | send activities |
| `leadflow_pacing_waits_total`, `leadflow_pacing_wait_seconds` | `channel`, `result` (`waited`, `deferred`) | pacing |
| `leadflow_activity_failures_total` | `error_kind`, `retryable` | worker/activity_logging.py, every failed attempt |
"""

from temporalio import activity
from temporalio.common import MetricMeter


def _meter() -> MetricMeter:
    return activity.metric_meter() if activity.in_activity() else MetricMeter.noop


def record_send(*, channel: str, outcome: str) -> None:
    _meter().create_counter("leadflow_sends", "Messages handed to a provider, by channel and outcome").add(
        1, {"channel": channel, "outcome": outcome}
    )


def record_pacing_wait(*, channel: str, seconds: float, deferred: bool) -> None:
    """A send held back by pacing: waited `seconds` in the activity, or deferred to a later attempt."""
    result = "deferred" if deferred else "waited"
    meter = _meter()
    meter.create_counter("leadflow_pacing_waits", "Sends held back by pacing").add(
        1, {"channel": channel, "result": result}
    )
    meter.create_histogram_float("leadflow_pacing_wait", "How long pacing held a send back", "seconds").record(
        seconds, {"channel": channel, "result": result}
    )


def record_activity_failure(*, error_kind: str, retryable: bool) -> None:
    _meter().create_counter("leadflow_activity_failures", "Failed activity attempts, by error kind").add(
        1, {"error_kind": error_kind, "retryable": str(retryable).lower()}
    )

"""The worker's Temporal runtime: the SDK's own metrics (workflow task and activity latencies, schedule-to-start,
slots, polls) and the activities' business metrics (core/activity_metrics.py) on one Prometheus endpoint,
`http://LEADFLOW_WORKER_METRICS_HOST:LEADFLOW_WORKER_METRICS_PORT/metrics`.

Counters get the `_total` suffix, durations are in seconds and named so (`_seconds`), as Prometheus names them.
Without a port the process-wide default runtime is used and nothing is served.
"""

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.config import Settings


def worker_runtime(settings: Settings) -> Runtime | None:
    if settings.worker_metrics_port is None:
        return None
    prometheus = PrometheusConfig(
        bind_address=f"{settings.worker_metrics_host}:{settings.worker_metrics_port}",
        counters_total_suffix=True,
        durations_as_seconds=True,
        unit_suffix=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus, global_tags={"service": "leadflow-worker"}))

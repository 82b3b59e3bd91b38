"""`GET /metrics`: the API's Prometheus metrics (api/metrics.py) and the webhook inbox's backlog.

The inbox gauges are read from the database at each scrape (one grouped count): every API process reports the same
shared backlog. Without `LEADFLOW_METRICS_TOKEN` the endpoint is open, like the probes: keep it off the public
ingress; with it, a scrape must send `Authorization: Bearer <token>` (Prometheus: `authorization.credentials`).
"""

import hmac
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from api.deps import SessionDep, SettingsDep
from api.services.admin_inbox import backlog
from core.errors import Unauthorized

router = APIRouter(tags=["health"])


class _Scrape:
    """One scrape's metrics: the process's (or all workers') collectors, plus gauges read for this scrape."""

    def __init__(self, base: Iterable[Metric], extra: list[Metric]) -> None:
        self.base = base
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self.base
        yield from self.extra


def _base_metrics(multiproc_dir: str | None) -> Iterable[Metric]:
    if not multiproc_dir:
        return REGISTRY.collect()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)
    return registry.collect()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    if settings.metrics_token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            raise Unauthorized("send 'Authorization: Bearer <LEADFLOW_METRICS_TOKEN>'")
    inbox = await backlog(session=session)
    depth = GaugeMetricFamily(
        "leadflow_webhook_inbox_events", "Webhook inbox events by state (open: pending, processing)", labels=["state"]
    )
    for state in ("pending", "processing", "parked"):
        depth.add_metric([state], inbox.counts.get(state, 0))
    oldest = GaugeMetricFamily(
        "leadflow_webhook_inbox_oldest_open_age_seconds", "Age of the oldest webhook event not yet handled (0: none)"
    )
    oldest.add_metric([], inbox.oldest_open_age_seconds or 0.0)
    body = generate_latest(_Scrape(_base_metrics(settings.metrics_multiproc_dir), [depth, oldest]))  # type: ignore[arg-type]
    return Response(body, media_type=CONTENT_TYPE_LATEST)

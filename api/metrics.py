"""The API's Prometheus metrics: their definitions, `observe_request` (called for every answer by
api/request_context.py), and the refusal counters the auth and rate-limit code increments.

Labels are bounded: the route *template* (`/api/v1/leads/{lead_id}`, `unmatched` for unknown paths), the method and
the status code; webhook deliveries by provider (the path's last segment) and outcome. Served at `/metrics`
(api/routes/metrics.py). With several uvicorn workers (`--workers N`) each process counts on its own and the scrape
must add them up: `python -m api` turns on prometheus_client's multiprocess mode when
`LEADFLOW_METRICS_MULTIPROC_DIR` is set (see api/__main__.py).
"""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("leadflow_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "leadflow_http_request_duration_seconds",
    "Time to answer an HTTP request, until the last byte of the body was handed to the server",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_DELIVERIES = Counter(
    "leadflow_webhook_deliveries", "Provider webhook deliveries by provider and outcome", ["provider", "outcome"]
)
AUTH_REFUSALS = Counter(
    "leadflow_auth_refusals", "Requests refused for missing or invalid credentials, CSRF or role", ["reason"]
)
RATE_LIMIT_REFUSALS = Counter("leadflow_rate_limit_refusals", "Requests refused 429 by a rate limit", ["limit"])

WEBHOOK_PREFIX = "/webhooks/"


def webhook_outcome(status: int) -> str:
    """What a provider's delivery came to, from the answer it got."""
    if status < 300:
        return "accepted"
    if status in (401, 403):
        return "rejected_signature"
    if status == 429:
        return "rate_limited"
    if status == 503:
        return "refused_overload"
    return "invalid" if status < 500 else "error"


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request (api/request_context.py calls this once per request, the 500s included)."""
    labels = (method, route, str(status))
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)
    if route.startswith(WEBHOOK_PREFIX) and method == "POST":
        WEBHOOK_DELIVERIES.labels(route.rsplit("/", 1)[-1], webhook_outcome(status)).inc()
    if status == 401:
        AUTH_REFUSALS.labels("unauthenticated").inc()
    elif status == 403 and not route.startswith(WEBHOOK_PREFIX):
        AUTH_REFUSALS.labels("forbidden").inc()

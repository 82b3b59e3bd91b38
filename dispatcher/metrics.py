"""The dispatcher's Prometheus metrics, served on `http://LEADFLOW_DISPATCHER_METRICS_HOST:_PORT/metrics` when the
port is set (`python -m dispatcher`; prometheus_client's own small HTTP server, no web framework).

- `leadflow_dispatcher_events_total{provider, outcome}`: inbox events handled; outcome `handled`, `outage` (put
  back without counting an attempt), `retried` (failed, attempt counted) or `parked` (failed for the last time);
- `leadflow_dispatcher_claim_batch_size`: events taken by each claim that took some;
- `leadflow_dispatcher_event_lag_seconds{provider}`: from the delivery stored in the inbox to its event handled;
- `leadflow_dispatcher_events_in_flight`: events being handled now;
- `leadflow_dispatcher_yielding`: 1 while webhooks arrive faster than `LEADFLOW_INBOX_YIELD_ABOVE_PER_SECOND` and
  this dispatcher holds itself to `LEADFLOW_INBOX_RATE_UNDER_BURST` events a second;
- `leadflow_dispatcher_inbox_open_events`, `leadflow_dispatcher_inbox_oldest_open_age_seconds`: the inbox's open
  (pending or processing) events and the oldest one's age, read every `BACKLOG_EVERY_SECONDS`.

Every dispatcher reports the same backlog (it is the table's): aggregate those two with `max`, the others with `sum`.
"""

from prometheus_client import Counter, Gauge, Histogram

BACKLOG_EVERY_SECONDS = 5.0

EVENTS = Counter(
    "leadflow_dispatcher_events",
    "Inbox events the dispatcher handled, by provider and outcome",
    ["provider", "outcome"],
)
CLAIM_BATCH = Histogram(
    "leadflow_dispatcher_claim_batch_size",
    "Inbox events taken by one claim (claims that took none are not counted)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
LAG = Histogram(
    "leadflow_dispatcher_event_lag_seconds",
    "Time from an event stored in the inbox to its handling finished",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
YIELDING = Gauge(
    "leadflow_dispatcher_yielding", "1 while a webhook burst holds this dispatcher to a few events at once"
)
IN_FLIGHT = Gauge("leadflow_dispatcher_events_in_flight", "Inbox events being handled by this dispatcher now")
OPEN_EVENTS = Gauge("leadflow_dispatcher_inbox_open_events", "Inbox events pending or being processed")
OLDEST_OPEN_AGE = Gauge(
    "leadflow_dispatcher_inbox_oldest_open_age_seconds", "Age of the oldest pending or processing inbox event (0: none)"
)

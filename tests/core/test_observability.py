"""What the running processes (`python -m api`, `worker`, `dispatcher`) show ops after real traffic: JSON log lines
carrying request, tenant, lead and workflow ids, and never a phone number, a message body or a credential; the API's
`/metrics`, the worker's Prometheus endpoint (the SDK's metrics and the activities' own) and the dispatcher's moved as
the traffic did."""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.ops_traffic import Traffic, run_traffic
from tests.fixtures.process_stack import SERVICES, ProcessStack, process_stack
from tests.fixtures.prod import free_port
from tests.workflows.support import eventually

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Observed:
    stack: ProcessStack
    traffic: Traffic
    logs: dict[str, str]
    api_before: Samples
    api_after: Samples
    worker_after: Samples
    dispatcher_after: Samples


def _samples(text: str) -> Samples:
    """Every sample by name and labels; a family without samples yet (a labelled counter never incremented) is
    listed under its name with no labels and the value 0."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault((family.name + ("_total" if family.type == "counter" else ""), frozenset()), 0.0)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


async def _scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url)
    assert answer.status_code == 200, answer.text
    return _samples(answer.text)


@pytest.fixture(scope="module")
async def observed(sandbox_url: str, sandbox_control: httpx.AsyncClient) -> AsyncIterator[Observed]:
    worker_metrics = free_port()
    worker_env = {
        "LEADFLOW_WORKER_METRICS_PORT": str(worker_metrics),
        # The second reply is deferred by pacing (a retried attempt), not waited for inside the activity: it follows
        # the first well within 10 s even on a loaded machine (3 s was not always enough).
        "LEADFLOW_WHATSAPP_RECIPIENT_MIN_INTERVAL_SECONDS": "10",
        "LEADFLOW_WHATSAPP_PACING_MAX_WAIT_SECONDS": "0",
    }
    dispatcher_metrics = free_port()
    env = {"LEADFLOW_DISPATCHER_METRICS_PORT": str(dispatcher_metrics)}
    async with process_stack(sandbox_url, env=env, worker_env=worker_env) as stack:
        dispatcher_url = f"http://127.0.0.1:{dispatcher_metrics}/metrics"
        dispatcher_before = await _scrape(dispatcher_url)
        assert value(dispatcher_before, "leadflow_dispatcher_events_total") == 0
        api_before = await _scrape(f"{stack.url}/metrics")
        traffic = await run_traffic(stack, sandbox_control)
        worker_url = f"http://127.0.0.1:{worker_metrics}/metrics"

        async def sent_counted() -> Samples | None:
            samples = await _scrape(worker_url)
            return samples if value(samples, "leadflow_sends_total", outcome="sent") == 2 else None

        worker_after = await eventually(sent_counted, within=30)
        assert worker_after, "the worker never counted both sends"
        api_after = await _scrape(f"{stack.url}/metrics")

        async def dispatcher_drained() -> Samples | None:
            # The backlog gauges are read every few seconds: wait for a reading after the inbox emptied.
            samples = await _scrape(dispatcher_url)
            handled = value(samples, "leadflow_dispatcher_events_total", outcome="handled")
            drained = value(samples, "leadflow_dispatcher_inbox_oldest_open_age_seconds") == 0
            return (
                samples
                if handled >= 1 and drained and value(samples, "leadflow_dispatcher_events_in_flight") == 0
                else None
            )

        dispatcher_after = await eventually(dispatcher_drained, within=30)
        assert dispatcher_after, "the dispatcher never reported the webhook handled and the inbox empty"
        await stack.stop()  # the logs are complete once the processes have exited
        logs = {service: stack.log(service) for service in SERVICES}
        yield Observed(stack, traffic, logs, api_before, api_after, worker_after, dispatcher_after)


def _lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.strip():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON log line: {line!r}") from None
    return lines


def test_no_log_line_holds_a_phone_number_a_message_body_or_a_credential(observed: Observed) -> None:
    for service, text in observed.logs.items():
        assert text.strip(), f"{service} wrote no log at all"
        for what, value in observed.traffic.secrets.items():
            assert value not in text, f"the {service} log holds the {what}"


def test_every_line_is_json_and_the_api_logs_each_request_with_its_ids(observed: Observed) -> None:
    lines = {service: _lines(text) for service, text in observed.logs.items()}
    traffic = observed.traffic
    requests = [line for line in lines["api"] if line["logger"] == "api.request"]
    created = next(line for line in requests if line.get("request_id") == traffic.request_id)
    assert (created["route"], created["status"], created["tenant_id"]) == (
        "/api/v1/leads",
        201,
        str(traffic.tenant.tenant_id),
    )
    messages = "/api/v1/leads/{lead_id}/messages"
    sent = next(line for line in requests if line["route"] == messages and line["status"] == 201)
    assert (sent["lead_id"], sent["tenant_id"]) == (str(traffic.lead_id), str(traffic.tenant.tenant_id))
    assert len({line["request_id"] for line in requests}) == len(requests), "each request has its own id"
    assert any(line["route"] == "/api/v1/auth/login" and line["status"] == 401 for line in requests)


def test_the_worker_logs_each_activity_with_its_workflow_lead_and_tenant(observed: Observed) -> None:
    traffic = observed.traffic
    activities = [line for line in _lines(observed.logs["worker"]) if line["logger"] == "worker.activity"]
    of_the_lead = [line for line in activities if line.get("lead_id") == str(traffic.lead_id)]
    assert of_the_lead, activities[:5]
    assert all(line["workflow_id"].endswith(str(traffic.lead_id)) for line in of_the_lead if "workflow_id" in line)
    sends = [line for line in of_the_lead if line["activity"] == "whatsapp.send_message"]
    assert sends and sends[-1]["outcome"] == "completed" and sends[-1]["tenant_id"] == str(traffic.tenant.tenant_id)


def test_the_dispatcher_logs_in_json(observed: Observed) -> None:
    assert _lines(observed.logs["dispatcher"])


def test_the_api_metrics_moved_with_the_traffic(observed: Observed) -> None:
    before, after = observed.api_before, observed.api_after
    created = {"name": "leadflow_http_requests_total", "method": "POST", "route": "/api/v1/leads", "status": "201"}
    assert value(before, **created) == 0 and value(after, **created) == 1
    latency = {"method": "POST", "route": "/api/v1/leads", "status": "201"}
    assert value(after, "leadflow_http_request_duration_seconds_count", **latency) == 1
    assert value(after, "leadflow_http_request_duration_seconds_sum", **latency) > 0
    sent = {"method": "POST", "route": "/api/v1/leads/{lead_id}/messages", "status": "201"}
    assert value(after, "leadflow_http_requests_total", **sent) == 2
    accepted = {"provider": "cloud", "outcome": "accepted"}
    assert value(before, "leadflow_webhook_deliveries_total", **accepted) == 0
    assert value(after, "leadflow_webhook_deliveries_total", **accepted) == 1
    assert value(after, "leadflow_auth_refusals_total", reason="unauthenticated") == 1  # the wrong password
    # The webhook was handled: nothing waits in the inbox.
    assert ("leadflow_webhook_inbox_events", frozenset({("state", "pending")})) in after
    assert value(after, "leadflow_webhook_inbox_events", state="pending") == 0
    assert value(after, "leadflow_webhook_inbox_oldest_open_age_seconds") == 0
    for samples in (before, after):
        assert not any("lead_id" in dict(labels) for _, labels in samples), "no unbounded label"


def test_the_worker_serves_the_sdk_metrics_and_the_business_metrics(observed: Observed) -> None:
    samples = observed.worker_after
    assert value(samples, "leadflow_sends_total", channel="whatsapp", outcome="sent") == 2
    assert value(samples, "leadflow_sends_total", channel="whatsapp", outcome="throttled") >= 1
    assert value(samples, "leadflow_pacing_waits_total", channel="whatsapp", result="deferred") >= 1
    assert value(samples, "leadflow_pacing_wait_seconds_count", result="deferred") >= 1
    throttled = {"error_kind": "WhatsAppThrottled", "retryable": "true", "activity_type": "whatsapp.send_message"}
    assert value(samples, "leadflow_activity_failures_total", **throttled) >= 1
    assert (
        value(samples, "temporal_workflow_completed_total")
        + value(samples, "temporal_workflow_task_execution_latency_seconds_count")
        > 0
    )
    assert (
        value(samples, "temporal_activity_execution_latency_seconds_count", activity_type="whatsapp.send_message") >= 1
    )
    assert value(samples, "temporal_workflow_task_schedule_to_start_latency_seconds_count") >= 1


def test_the_dispatcher_serves_its_events_claims_lag_and_backlog(observed: Observed) -> None:
    samples = observed.dispatcher_after
    handled = value(samples, "leadflow_dispatcher_events_total", provider="cloud", outcome="handled")
    assert handled >= 1, "the inbound message the traffic delivered"
    for outcome in ("outage", "retried", "parked"):
        assert value(samples, "leadflow_dispatcher_events_total", outcome=outcome) == 0, outcome
    claims = value(samples, "leadflow_dispatcher_claim_batch_size_count")
    assert 1 <= claims <= value(samples, "leadflow_dispatcher_events_total")
    assert value(samples, "leadflow_dispatcher_claim_batch_size_sum") == value(
        samples, "leadflow_dispatcher_events_total"
    )
    lag = value(samples, "leadflow_dispatcher_event_lag_seconds_count", provider="cloud")
    assert lag == handled and value(samples, "leadflow_dispatcher_event_lag_seconds_sum", provider="cloud") > 0
    assert value(samples, "leadflow_dispatcher_inbox_open_events") == 0
    assert value(samples, "leadflow_dispatcher_inbox_oldest_open_age_seconds") == 0


def test_every_metric_the_alerts_and_the_dashboard_use_is_served(observed: Observed) -> None:
    served = {name for name, _ in (*observed.api_after, *observed.worker_after, *observed.dispatcher_after)}
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    rules = yaml.safe_load((deploy / "prometheus" / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((deploy / "grafana" / "dashboards" / "leadflow.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in expressions for name in re.findall(r"\b(?:leadflow|temporal)_[a-z_]+", expr)}
    assert len(used) > 10
    missing = sorted(name for name in used if name not in served)
    assert not missing, f"alerts or dashboard use metrics nobody serves: {missing}"

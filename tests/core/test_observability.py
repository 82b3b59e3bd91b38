"""What the running processes (`python -m api`, `worker`, `dispatcher`) show ops after real traffic: JSON log lines
carrying request, tenant, lead and workflow ids, and never a phone number, a message body or a credential."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fixtures.ops_traffic import Traffic, run_traffic
from tests.fixtures.process_stack import SERVICES, ProcessStack, process_stack


@dataclass(frozen=True)
class Observed:
    stack: ProcessStack
    traffic: Traffic
    logs: dict[str, str]


@pytest.fixture(scope="module")
async def observed(sandbox_url: str, sandbox_control: httpx.AsyncClient) -> AsyncIterator[Observed]:
    async with process_stack(sandbox_url) as stack:
        traffic = await run_traffic(stack, sandbox_control)
        await stack.stop()  # the logs are complete once the processes have exited
        yield Observed(stack, traffic, {service: stack.log(service) for service in SERVICES})


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

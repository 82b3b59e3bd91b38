"""Tenant isolation: another tenant's lead is a 404 on every lead endpoint, for every role, and is left untouched."""

import uuid

import pytest
from temporalio.client import WorkflowExecutionStatus

from workflows.ids import lead_workflow_id

# Every lead gets a real LeadWorkflow: the worker runs them.
pytestmark = pytest.mark.usefixtures("lead_worker")

LEADS = "/api/v1/leads"

# (method, path template, JSON body) for every endpoint that takes a lead id.
ENDPOINTS = [
    ("GET", "/api/v1/leads/{id}", None),
    ("PATCH", "/api/v1/leads/{id}", {"name": "Hijacked"}),
    ("DELETE", "/api/v1/leads/{id}", None),
    ("POST", "/api/v1/leads/{id}/status", {"status": "contacted"}),
    ("GET", "/api/v1/leads/{id}/timeline", None),
]


@pytest.fixture
async def victim(client, make_tenant):
    """Another tenant with one lead (a dict of its public fields) whose workflow is running."""
    other = await make_tenant()
    response = await client.post(
        LEADS, json={"phone": "+12025550900", "name": "Someone Else's"}, headers=other.headers("owner")
    )
    assert response.status_code == 201, response.text
    return other, response.json()


# Agents may not delete at all (403 before any lookup, see test_leads), so that pair is not a lookup case.
CASES = [
    (role, method, path, body)
    for role in ("owner", "admin", "agent")
    for method, path, body in ENDPOINTS
    if not (role == "agent" and method == "DELETE")
]


@pytest.mark.parametrize(("role", "method", "path", "body"), CASES, ids=[f"{r} {m} {p}" for r, m, p, _ in CASES])
async def test_another_tenants_lead_is_not_found(
    client, tenant, victim, temporal_client, role: str, method: str, path: str, body
) -> None:
    other, lead = victim
    response = await client.request(method, path.format(id=lead["id"]), json=body, headers=tenant.headers(role))
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"

    # Nothing happened to it.
    unchanged = await client.get(f"{LEADS}/{lead['id']}", headers=other.headers("owner"))
    assert unchanged.status_code == 200
    assert {key: unchanged.json()[key] for key in lead} == lead  # the page's read adds the owner's name
    description = await temporal_client.get_workflow_handle(lead_workflow_id(other.slug, lead["id"])).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
async def test_an_unknown_lead_id_is_not_found_too(client, tenant, method: str, path: str, body) -> None:
    response = await client.request(method, path.format(id=uuid.uuid4()), json=body, headers=tenant.headers("owner"))
    assert response.status_code == 404


async def test_another_tenants_leads_are_not_listed_or_found_by_search(client, tenant, victim) -> None:
    _, lead = victim
    mine = await client.post(LEADS, json={"phone": "+12025550901"}, headers=tenant.headers("agent"))
    assert mine.status_code == 201
    listed = (await client.get(LEADS, params={"limit": 200}, headers=tenant.headers())).json()
    assert [item["id"] for item in listed["items"]] == [mine.json()["id"]]
    searched = (await client.get(LEADS, params={"q": lead["phone"]}, headers=tenant.headers())).json()
    assert searched["items"] == []


async def test_another_tenants_phone_is_not_a_duplicate(client, tenant, victim) -> None:
    _, lead = victim
    response = await client.post(LEADS, json={"phone": lead["phone"]}, headers=tenant.headers("agent"))
    assert response.status_code == 201
    assert response.json()["id"] != lead["id"]

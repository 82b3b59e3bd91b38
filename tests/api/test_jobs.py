"""GET /api/v1/jobs/{id}: tenant-scoped (another tenant's job is a 404, like a missing one), readable by whoever may
read what the job works on (an agent reads an import's job though only owners and admins import)."""

import uuid

import httpx
import pytest

from tests.fixtures.jobs import finished_job

pytestmark = pytest.mark.usefixtures("lead_worker")

JOBS = "/api/v1/jobs"


async def _import(client: httpx.AsyncClient, tenant, phone: str) -> httpx.Response:
    files = {"file": ("leads.csv", f"phone\n{phone}\n".encode(), "text/csv")}
    return await client.post("/api/v1/leads/import", files=files, headers=tenant.headers("owner"))


async def test_another_tenants_job_is_not_found(client: httpx.AsyncClient, tenant, make_tenant) -> None:
    accepted = await _import(client, tenant, "+12025550911")
    job = await finished_job(client, tenant, accepted)
    other = await make_tenant()

    foreign = await client.get(f"{JOBS}/{job['id']}", headers=other.headers("owner"))
    missing = await client.get(f"{JOBS}/{uuid.uuid4()}", headers=tenant.headers("owner"))
    for response in (foreign, missing):
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found" and "job" in response.json()["message"]
    assert foreign.json()["details"] == {"job_id": job["id"]}


async def test_a_malformed_job_id_is_a_422_and_credentials_are_required(client: httpx.AsyncClient, tenant) -> None:
    malformed = await client.get(f"{JOBS}/not-a-uuid", headers=tenant.headers())
    assert malformed.status_code == 422 and "job_id" in malformed.text
    assert (await client.get(f"{JOBS}/{uuid.uuid4()}")).status_code == 401


async def test_an_agent_reads_the_job_of_an_import_it_may_not_start(client: httpx.AsyncClient, tenant) -> None:
    accepted = await _import(client, tenant, "+12025550912")
    job = await finished_job(client, tenant, accepted, role="agent")
    assert (job["state"], job["total"], job["started"]) == ("done", 1, 1)
    assert job["created_by"] == accepted.json()["job"]["created_by"]

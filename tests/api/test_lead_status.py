"""Status changes through the real LeadWorkflow: an allowed change is answered with the lead and mirrored to the row
and the timeline; a refused one is a 409 with the workflow's reason and changes nothing."""

import httpx
import pytest

# Every lead gets a real LeadWorkflow: the worker runs them.
pytestmark = pytest.mark.usefixtures("lead_worker")

LEADS = "/api/v1/leads"


async def _create(client: httpx.AsyncClient, tenant, phone: str, **fields) -> dict:
    response = await client.post(
        LEADS, json={"phone": phone, "name": "Status Lead", **fields}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _change(client: httpx.AsyncClient, tenant, lead_id: str, status: str, role: str = "agent", **extra):
    return await client.post(
        f"{LEADS}/{lead_id}/status", json={"status": status, **extra}, headers=tenant.headers(role)
    )


async def _row(client: httpx.AsyncClient, tenant, lead_id: str) -> dict:
    response = await client.get(f"{LEADS}/{lead_id}", headers=tenant.headers())
    assert response.status_code == 200
    return response.json()


async def _timeline(client: httpx.AsyncClient, tenant, lead_id: str) -> list[dict]:
    response = await client.get(f"{LEADS}/{lead_id}/timeline", headers=tenant.headers())
    assert response.status_code == 200
    return response.json()


async def test_an_allowed_change_is_answered_and_mirrored(client, tenant) -> None:
    lead = await _create(client, tenant, "+12025551001")
    response = await _change(client, tenant, lead["id"], "contacted", reason="called, left voicemail")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == lead["id"] and body["status"] == "contacted" and body["stage"] == "contacted"

    # The workflow answers only after its activity mirrored the change: the row and timeline show it already.
    row = await _row(client, tenant, lead["id"])
    assert row["status"] == "contacted" and row["stage"] == "contacted"
    events = await _timeline(client, tenant, lead["id"])
    assert [e["kind"] for e in events] == ["status_changed", "created"]
    assert events[0]["data"]["reason"] == "called, left voicemail"


async def test_a_refused_transition_is_409_with_the_reason_and_changes_nothing(client, tenant) -> None:
    lead = await _create(client, tenant, "+12025551002")
    response = await _change(client, tenant, lead["id"], "won")
    assert response.status_code == 409, response.text
    assert "cannot move to stage 'won'" in response.json()["message"]
    row = await _row(client, tenant, lead["id"])
    assert row["status"] == "new" and row["stage"] == "new"
    assert [e["kind"] for e in await _timeline(client, tenant, lead["id"])] == ["created"]


async def test_an_opted_out_lead_can_no_longer_change(client, tenant) -> None:
    lead = await _create(client, tenant, "+12025551003")
    assert (await _change(client, tenant, lead["id"], "opted_out")).status_code == 200
    refused = await _change(client, tenant, lead["id"], "contacted")
    assert refused.status_code == 409
    assert "opted out" in refused.json()["message"]
    row = await _row(client, tenant, lead["id"])
    assert row["status"] == "opted_out"


async def test_successive_changes_follow_the_workflow(client, tenant) -> None:
    lead = await _create(client, tenant, "+12025551004")
    for status in ("contacted", "engaged", "qualified", "won"):
        response = await _change(client, tenant, lead["id"], status)
        assert response.status_code == 200, (status, response.text)
        assert response.json()["status"] == status

    assert (await _row(client, tenant, lead["id"]))["status"] == "won"
    kinds = [e["kind"] for e in await _timeline(client, tenant, lead["id"])]
    assert kinds == ["status_changed"] * 4 + ["created"]


async def test_an_unknown_status_key_is_422_before_the_workflow(client, tenant) -> None:
    lead = await _create(client, tenant, "+12025551005")
    response = await _change(client, tenant, lead["id"], "vip")
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "status"
    missing = await client.post(f"{LEADS}/{lead['id']}/status", json={}, headers=tenant.headers())
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "status"

"""The permission matrix, cell by cell: every Action x Role, with an API key and with a logged-in session.

Two views of each cell: a probe route guarded by nothing but `require(action)` (the dependency every route uses),
and the action's representative endpoint of the real API. Allowed means "not 401/403" (the request may still be
refused for its body, e.g. 422); forbidden means 403. One tenant and one login per role serve the whole module:
no call here changes anything another cell depends on.
"""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from api.app import create_app
from api.security import Principal, require
from domain.permissions import MATRIX, Action, Role, allowed, matrix_markdown
from tests.fixtures.crm import PASSWORD, TenantContext, create_system_admin, create_test_tenant, session_headers


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # may contain {tenant_id}, {owner_id} and {random_id}
    body: dict | None = None


# The representative endpoint of each action. Bodies are chosen so an allowed call changes nothing lasting (an
# empty body is a 422 once the permission check has passed); renaming the owner is harmless.
ENDPOINTS: dict[Action, Call] = {
    Action.TENANT_CREATE: Call("POST", "/api/v1/tenants", {}),
    Action.TENANT_LIST: Call("GET", "/api/v1/tenants"),
    Action.TENANT_SETTINGS: Call("PATCH", "/api/v1/tenants/{tenant_id}", {}),
    Action.USER_READ: Call("GET", "/api/v1/users"),
    Action.USER_MANAGE: Call("POST", "/api/v1/users", {}),
    Action.USER_MANAGE_OWNERS: Call("PATCH", "/api/v1/users/{owner_id}", {"full_name": "Renamed Owner"}),
    Action.API_KEY_MANAGE: Call("GET", "/api/v1/api-keys"),
    Action.STATUS_READ: Call("GET", "/api/v1/statuses"),
    Action.STATUS_MANAGE: Call("POST", "/api/v1/statuses", {}),
    Action.LEAD_READ: Call("GET", "/api/v1/leads"),
    Action.LEAD_WRITE: Call("POST", "/api/v1/leads", {}),
    Action.LEAD_DELETE: Call("DELETE", "/api/v1/leads/{random_id}"),
    Action.LEAD_IMPORT: Call("POST", "/api/v1/leads/import"),
    Action.WHATSAPP_ACCOUNT_MANAGE: Call("GET", "/api/v1/whatsapp/account"),
    Action.WHATSAPP_SHARD_MANAGE: Call("POST", "/api/v1/whatsapp/shards/{random_id}/move", {}),
    Action.WEBHOOK_INBOX_MANAGE: Call("GET", "/api/v1/admin/inbox"),
    Action.FEATURE_FLAG_MANAGE: Call("GET", "/api/v1/admin/tenants/{tenant_id}/flags"),
    Action.PAYLOAD_DECODE: Call("POST", "/codec/decode", {"payloads": []}),
    Action.SEQUENCE_READ: Call("GET", "/api/v1/sequences"),
    Action.SEQUENCE_MANAGE: Call("POST", "/api/v1/sequences", {}),
    Action.ENROLLMENT_READ: Call("GET", "/api/v1/enrollments/{random_id}"),
    Action.ENROLLMENT_MANAGE: Call("POST", "/api/v1/enrollments/{random_id}/pause", {}),
    Action.TASK_WORK: Call("GET", "/api/v1/tasks"),
    Action.AI_AGENT_MANAGE: Call("GET", "/api/v1/ai/agent"),
    Action.AI_USAGE_READ: Call("GET", "/api/v1/ai/usage"),
    Action.AI_DRAFT_WORK: Call("GET", "/api/v1/ai/drafts"),
    Action.TELEPHONY_ACCOUNT_MANAGE: Call("GET", "/api/v1/telephony/account"),
    Action.CALL_READ: Call("GET", "/api/v1/calls/live"),
    Action.CALL_PLACE: Call("POST", "/api/v1/leads/{random_id}/calls", {}),
}

# Rules beyond the matrix, by cell: the refusal's message. An agent's task inbox belongs to a person, so an agent API
# key (allowed task:work by the matrix) gets no inbox.
STRICTER: dict[tuple[Action, Role, str], str] = {
    (Action.TASK_WORK, Role.AGENT, "api_key"): "tasks belong to people",
}

CELLS = [
    (action, role, via)
    for action in Action
    for role in Role
    # system_admin has no API keys: keys belong to tenants.
    for via in (["session"] if role == Role.SYSTEM_ADMIN else ["api_key", "session"])
]
IDS = [f"{action}-{role}-{via}" for action, role, via in CELLS]


@dataclass(frozen=True)
class World:
    tenant: TenantContext
    credentials: dict[tuple[Role, str], dict[str, str]]  # (role, via) -> headers


@pytest.fixture(scope="module")
async def world(session_factory, make_client, settings) -> World:
    tenant = await create_test_tenant(session_factory)
    admin = await create_system_admin(session_factory, make_client, settings)
    credentials = {(Role.SYSTEM_ADMIN, "session"): admin.headers}
    for role in (Role.OWNER, Role.ADMIN, Role.AGENT):
        credentials[(role, "api_key")] = tenant.headers(role.value)
        async with make_client() as c:
            credentials[(role, "session")] = await session_headers(c, settings, tenant.users[role].email, PASSWORD)
    return World(tenant=tenant, credentials=credentials)


@pytest.fixture(scope="module")
async def probe_app(settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    router = APIRouter()
    for action in Action:

        def make(action: Action = action):
            async def probe(principal: Annotated[Principal, Depends(require(action))]) -> dict[str, str]:
                return {"role": principal.role}

            return probe

        router.add_api_route(f"/probe/{action}", make(), methods=["POST"])
    app.include_router(router)
    async with app.router.lifespan_context(app):
        yield app


def test_the_matrix_has_a_row_for_every_action() -> None:
    assert set(MATRIX) == set(Action)
    assert set(ENDPOINTS) == set(Action)
    table = matrix_markdown().splitlines()
    assert len(table) == 2 + len(Action)
    assert all(f"`{action}`" in table[2 + i] for i, action in enumerate(Action))


@pytest.mark.parametrize(("action", "role", "via"), CELLS, ids=IDS)
async def test_require_enforces_the_cell(probe_app, world, action: Action, role: Role, via: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_app), base_url="http://testserver") as c:
        response = await c.post(f"/probe/{action}", headers=world.credentials[(role, via)])
    if allowed(role, action):
        assert response.status_code == 200, response.text
        assert response.json() == {"role": role}
    else:
        assert response.status_code == 403, response.text
        assert response.json()["message"] == f"role '{role}' may not perform '{action}'"


@pytest.mark.parametrize(("action", "role", "via"), CELLS, ids=IDS)
async def test_the_representative_endpoint_enforces_the_cell(
    app, client, world, action: Action, role: Role, via: str
) -> None:
    call = ENDPOINTS.get(action)
    assert call is not None, f"'{action}' needs a representative endpoint in ENDPOINTS"
    path = call.path.format(tenant_id=world.tenant.tenant_id, owner_id=world.tenant.owner.id, random_id=uuid.uuid4())
    response = await client.request(call.method, path, json=call.body, headers=world.credentials[(role, via)])
    stricter = STRICTER.get((action, role, via))
    if stricter is not None:
        assert response.status_code == 403, response.text
        assert stricter in response.json()["message"]
    elif allowed(role, action):
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text


async def test_without_credentials_every_endpoint_is_401(app, client, world) -> None:
    for call in ENDPOINTS.values():
        path = call.path.format(
            tenant_id=world.tenant.tenant_id, owner_id=world.tenant.owner.id, random_id=uuid.uuid4()
        )
        response = await client.request(call.method, path, json=call.body)
        assert response.status_code == 401, f"{call.method} {path}: {response.text}"

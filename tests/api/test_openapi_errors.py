"""The OpenAPI document declares every operation's error answers with the one `ErrorResponse` schema, so generated
clients can rely on them: 401/403 where a caller must authenticate, 404 where the path names something, 400/415/422
where input is read, 503 wherever the database, Redis or Temporal is used; routes added later get them too."""

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header

from api.app import create_app
from api.deps import SessionDep
from api.security import Principal, require
from domain.permissions import Action

ERROR_REF = "#/components/schemas/ErrorResponse"
METHODS = {"get", "put", "post", "patch", "delete"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _missing_errors(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """What this operation fails to declare, judged from the operation alone."""
    responses = operation["responses"]
    expected = set()
    if operation.get("security"):
        expected |= {"401", "403"}
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters):
        expected.add("404")
    body = operation.get("requestBody", {}).get("content", {})
    if parameters or body:
        expected.add("422")
    if body:
        expected.add("400")
    if "application/json" in body:
        expected.add("415")
    if path != "/healthz":
        expected.add("503")
    problems = [f"{method} {path}: no {status}" for status in sorted(expected - set(responses))]
    for status, answer in responses.items():
        if int(status) < 400:
            continue
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema != {"$ref": ERROR_REF}:
            problems.append(f"{method} {path}: {status} is not an ErrorResponse ({schema})")
        if not answer.get("description"):
            problems.append(f"{method} {path}: {status} has no description")
    return problems


async def test_every_operation_declares_its_errors_with_the_error_schema(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    error_schema = document["components"]["schemas"]["ErrorResponse"]
    assert set(error_schema["required"]) == {"error", "message", "details"}
    # FastAPI's own 422 body is never sent: it must not be offered to clients either.
    assert "HTTPValidationError" not in document["components"]["schemas"]

    operations = _operations(document)
    assert len(operations) > 50
    problems = [problem for operation in operations for problem in _missing_errors(*operation)]
    assert problems == []


async def test_route_specific_errors_are_declared_with_their_own_descriptions(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "details.lead_id" in paths["/api/v1/leads"]["post"]["responses"]["409"]["description"]
    assert {"400", "401", "413"} <= set(paths["/webhooks/whatsapp/cloud"]["post"]["responses"])
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]
    assert "403" in paths["/webhooks/whatsapp/cloud"]["get"]["responses"]


async def test_a_route_added_later_declares_its_errors_without_listing_them(settings) -> None:
    app = create_app(settings)
    later = APIRouter(prefix="/api/v1/later")

    @later.post("/{thing_id}")
    async def create_later_thing(
        thing_id: int,
        principal: Annotated[Principal, Depends(require(Action.LEAD_WRITE))],
        session: SessionDep,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        return {}

    app.include_router(later)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        document = (await c.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/later/{thing_id}"]["post"]
    assert {"401", "403", "404", "422", "503"} <= set(operation["responses"])
    assert _missing_errors("POST", "/api/v1/later/{thing_id}", operation) == []

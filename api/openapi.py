"""The OpenAPI document declares, for every operation, the error statuses it can answer, each with `ErrorResponse`.

They are derived when the document is built, from what each route is made of, so a route added later declares its
errors without listing them:
- a dependency that can fail says how with `@raises(...)`: authentication 401/403, the database, Redis or Temporal
  503 (api/security.py, api/deps.py, api/admission.py);
- a path parameter means 404 (another tenant's id answers the same), any parameter or body 422, a body 400 (not
  JSON, a broken upload), a JSON body 415 (another content type);
- a router or route adds what only it knows with FastAPI's `responses=` (409, 413, 429, ...): a description is
  enough, the schema is filled in here. A route that gives its own `model` or `content` keeps it.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from api.schemas.errors import ErrorResponse

DEFAULT_DESCRIPTIONS = {
    400: "the body cannot be read: not valid JSON, or a broken upload",
    401: "no valid session cookie or API key",
    403: "the caller's role may not do this, a cookie-authenticated write lacks its X-CSRF-Token, or the caller has "
    "no tenant",
    404: "not found in the caller's tenant",
    409: "conflicts with the current state",
    413: "the body is too large",
    415: "the body is not JSON: send Content-Type: application/json",
    422: "a parameter or field is invalid; details name each",
    429: "too many attempts; see Retry-After",
    503: "the database, Redis or Temporal cannot be reached, or the process is overloaded; retry (see Retry-After)",
}
ERROR_SCHEMA_REF = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
# FastAPI's own 422 body, which the app never sends (api/errors.py answers validation errors as ErrorResponse).
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

_STATUSES_OF_DEPENDENCY: dict[Callable[..., Any], frozenset[int]] = {}
Dependency = TypeVar("Dependency", bound=Callable[..., Any])


def raises(*statuses: int) -> Callable[[Dependency], Dependency]:
    """Mark a dependency with the error statuses it answers; every route that depends on it declares them."""

    def mark(dependency: Dependency) -> Dependency:
        _STATUSES_OF_DEPENDENCY[dependency] = frozenset(statuses)
        return dependency

    return mark


def _dependency_statuses(dependant: Dependant) -> set[int]:
    """What the dependencies can answer, and 404 / 422 for the parameters they read."""
    statuses = set(_STATUSES_OF_DEPENDENCY.get(dependant.call, ())) if dependant.call else set()
    if dependant.path_params:
        statuses.add(404)
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params:
        statuses.add(422)
    for sub_dependant in dependant.dependencies:
        statuses |= _dependency_statuses(sub_dependant)
    return statuses


def error_statuses(route: Any) -> dict[int, dict[str, Any]]:
    """The error statuses a route (an APIRoute or FastAPI's context of one) answers: status → its own declaration."""
    statuses = _dependency_statuses(route.dependant)
    if route.body_field is not None:
        statuses |= {400, 422}
        if getattr(route.body_field.field_info, "media_type", None) == "application/json":
            statuses.add(415)
    declared = {int(status): spec for status, spec in route.responses.items() if str(status).isdigit()}
    statuses |= {status for status in declared if status >= 400}
    return {status: declared.get(status, {}) for status in sorted(statuses)}


def _schema_routes(routes: Iterable[BaseRoute]) -> Iterable[Any]:
    for route in iter_route_contexts(list(routes)):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def declare_error_responses(document: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    """Add every operation's error answers to an OpenAPI document FastAPI generated from `routes`."""
    for route in _schema_routes(routes):
        statuses = error_statuses(route)
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            responses = operation.setdefault("responses", {})
            for status, own in statuses.items():
                answer = responses.setdefault(str(status), {})
                answer["description"] = own.get("description") or DEFAULT_DESCRIPTIONS.get(status, "error")
                if "model" not in own and "content" not in own:
                    answer["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ErrorResponse.__name__] = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    if "#/components/schemas/HTTPValidationError" not in str(document["paths"]):
        for name in FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)


def install_openapi(app: FastAPI) -> None:
    """Serve the document with the error answers declared (FastAPI rebuilds it when routes change)."""
    generate = app.openapi
    declared_in: list[int] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if declared_in != [id(document)]:
            declare_error_responses(document, app.routes)
            declared_in[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]

"""Maps `AppError` and request validation errors to JSON: `{"error": code, "message": ..., "details": ...}`.

A request validation error (422 `validation_error`) lists each refused field once in `details` as `{field, reason}`,
the reason worded for people (core/validation_messages.py); `message` joins them as "field: reason; …".

The framework's own answers take the same shape: an unknown path (404), a method the path does not serve (405, its
`Allow` naming every method of the path; `OPTIONS` is answered 204 with `Allow`), a body that cannot be parsed
(400), a body that is not JSON where JSON is expected (415), and an unexpected failure (500).

A value PostgreSQL refuses (`DataError`: a NUL character, a number out of range) that slipped past validation is the
caller's input, not a server fault: 422, without the SQL or the parameters, which may hold other people's data.

Temporal's failures (refusals, timeouts, an unreachable or never-connected server) become `AppError`s in one place,
workflow_clients/errors.py, before they reach a handler here.
"""

import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.body_limit import BodyTooLarge
from api.http_methods import allowed_methods, options_response
from core.db import is_database_unavailable
from core.errors import AppError
from core.validation_messages import plain_reason

log = logging.getLogger(__name__)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    body = {"error": exc.code, "message": exc.message, "details": exc.details}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if (unreadable := _unreadable_body(request, exc)) is not None:
        return unreadable
    # One entry per problem, each reason in a person's words (core/validation_messages.py), not pydantic's.
    errors = [{"field": _field_path(tuple(e.get("loc", ()))), "reason": plain_reason(e)} for e in exc.errors()]
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse({"error": "validation_error", "message": message, "details": errors}, status_code=422)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, exc.orig)
    message = "a value in the request cannot be stored by the database (for example a NUL character); fix it and retry"
    return JSONResponse({"error": "invalid_value", "message": message, "details": None}, status_code=422)


async def _changed_meanwhile(request: Request, exc: Exception) -> JSONResponse:
    """A row this request read was deleted (or changed under its version) by another request before this one wrote
    it: a race the caller resolves by reading again, not a server fault."""
    log.warning("%s %s: a row changed or was deleted by another request meanwhile", request.method, request.url.path)
    message = "what this request changes was deleted or changed by another request meanwhile; read it again and retry"
    return JSONResponse({"error": "conflict", "message": message, "details": None}, status_code=409)


DATABASE_RETRY_AFTER_SECONDS = 5


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL unreachable (stopped, restarting, failing over, the pool exhausted) is an outage, on every endpoint:
    503 + Retry-After, so providers redeliver webhooks and clients retry, instead of a 500 with a traceback."""
    if not is_database_unavailable(exc):
        raise exc  # a constraint or programming error: a real fault, the server's 500
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, str(exc).splitlines()[0])
    message = (
        "the database cannot be reached right now, so the request did not complete; "
        f"send it again in {DATABASE_RETRY_AFTER_SECONDS} s"
    )
    return JSONResponse(
        {"error": "service_unavailable", "message": message, "details": {"down": "database"}},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def _error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details}


def _unreadable_body(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """A body that is not JSON at all: its syntax error (400), or a content type FastAPI does not parse as JSON (415).

    Both otherwise read as a field error of the body ("1: JSON decode error", "Input should be a valid dictionary").
    """
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            position = error["loc"][-1] if error.get("loc") else None
            message = f"the body is not valid JSON: {reason} at character {position}"
            at = [{"field": "body", "reason": reason, "position": position}]
            return JSONResponse(_error_body("invalid_json", message, at), status_code=400)
    # FastAPI hands a JSON endpoint the raw bytes when the content type is not JSON (or missing).
    if isinstance(exc.body, bytes):
        sent = request.headers.get("content-type") or "none"
        message = f"the body must be JSON: send it with 'Content-Type: application/json' (got '{sent}')"
        details = {"content_type": sent, "expected": "application/json"}
        return JSONResponse(_error_body("unsupported_media_type", message, details), status_code=415)
    return None


def _framework_error_code(status_code: int) -> str:
    if status_code == 413:
        return "payload_too_large"  # as the webhooks' own limit names it
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's own `HTTPException`s: unknown paths, wrong methods, unparseable bodies."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request, announced=headers.get("Allow", ""))
        if request.method == "OPTIONS" and methods:
            return options_response(methods)
        if methods:
            headers["Allow"] = ", ".join(methods)
        message = f"{request.url.path} does not accept {request.method}; it accepts {headers.get('Allow', 'no method')}"
        body = _error_body("method_not_allowed", message, {"allowed": headers.get("Allow", "").split(", ")})
        return JSONResponse(body, status_code=405, headers=headers)
    if exc.status_code == 404 and exc.detail == HTTPStatus.NOT_FOUND.phrase:
        message = f"nothing at {request.url.path}: the API is under /api/v1, its reference at /docs"
    elif exc.status_code == 400:
        message = f"the request body cannot be read: {exc.detail}"
    else:
        message = str(exc.detail)
    details = {"max_bytes": exc.max_bytes} if isinstance(exc, BodyTooLarge) else None
    body = _error_body(_framework_error_code(exc.status_code), message, details)
    return JSONResponse(body, status_code=exc.status_code, headers=headers or None)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the product's shape without the exception's text (it may hold data); Starlette logs the traceback."""
    message = "the server failed to answer this request; the failure is logged, and retrying may not help"
    return JSONResponse(_error_body("internal_error", message), status_code=500)


def install_framework_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Exception (not a subclass) goes to the outermost middleware: the 500 answer of anything no other handler took.
    app.add_exception_handler(Exception, _unexpected_error)


def install_error_handlers(app: FastAPI) -> None:
    install_framework_error_handlers(app)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(StaleDataError, _changed_meanwhile)
    for outage in (DBAPIError, PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError):
        app.add_exception_handler(outage, _database_unavailable)

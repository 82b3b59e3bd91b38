"""Maps `AppError` and request validation errors to JSON: `{"error": code, "message": ..., "details": ...}`.

A value PostgreSQL refuses (`DataError`: a NUL character, a number out of range) that slipped past validation is the
caller's input, not a server fault: 422, without the SQL or the parameters, which may hold other people's data.

The Temporal client connects lazily: an API process started while Temporal was down gets `RuntimeError("Failed
client connect: ...")` from any workflow call until Temporal is back. That is an outage, not a bug: 503 +
Retry-After, like the RPCError UNAVAILABLE the handlers map once connected.
"""

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.db import is_database_unavailable
from core.errors import AppError

log = logging.getLogger(__name__)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    body = {"error": exc.code, "message": exc.message, "details": exc.details}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field_path(tuple(e.get("loc", ()))), "reason": e.get("msg", "invalid")} for e in exc.errors()]
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse({"error": "validation_error", "message": message, "details": errors}, status_code=422)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, exc.orig)
    message = "a value in the request cannot be stored by the database (for example a NUL character); fix it and retry"
    return JSONResponse({"error": "invalid_value", "message": message, "details": None}, status_code=422)


TEMPORAL_CONNECT_FAILURE = "Failed client connect"


async def _runtime_error(request: Request, exc: Exception) -> JSONResponse:
    if not str(exc).startswith(TEMPORAL_CONNECT_FAILURE):
        raise exc  # a real fault: the server's 500 (and its traceback in the log)
    log.warning("%s %s: Temporal unreachable: %s", request.method, request.url.path, str(exc).splitlines()[0])
    message = (
        "the workflow engine (Temporal) cannot be reached, so the request did not finish; anything it saved is kept "
        "and sending the same request again completes it"
    )
    return JSONResponse(
        {"error": "service_unavailable", "message": message, "details": {"down": "temporal"}},
        status_code=503,
        headers={"Retry-After": "5"},
    )


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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(RuntimeError, _runtime_error)
    for outage in (DBAPIError, PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError):
        app.add_exception_handler(outage, _database_unavailable)

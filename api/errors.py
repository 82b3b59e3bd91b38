"""Maps `AppError` and request validation errors to JSON: `{"error": code, "message": ..., "details": ...}`."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import AppError


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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

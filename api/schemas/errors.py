"""The body of every error answer: `ErrorResponse` (api/errors.py builds it, api/openapi.py declares it)."""

from typing import Any

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    error: str = Field(description="a stable code to branch on: not_found, validation_error, conflict, ...")
    message: str = Field(description="what went wrong and what to do about it, for a person")
    details: Any = Field(description="the problem's data (fields, ids, counts), or null; its shape depends on `error`")

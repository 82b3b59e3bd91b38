"""Pydantic's validation errors read as reasons a person can act on: no "Value error, " prefix, no regular
expression, no parser internals."""

import uuid
from datetime import datetime
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from core.validation_messages import plain_reason, readable_pattern

SHOUT = readable_pattern(r"^[A-Z]+$", "capital letters only, such as HELLO")


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = ""
    shout: str = Field(default="OK", pattern=SHOUT)
    bare: str = Field(default="a", pattern=r"^[a-z]$")
    title: str = Field(default="x", min_length=1, max_length=5)
    code: str = Field(default="abc", min_length=3)
    lead_id: uuid.UUID | None = None
    count: int = Field(default=1, ge=1, le=10)
    kind: Literal["a", "b"] = "a"
    at: datetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=2)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and "." not in value.split("@")[-1]:
            raise ValueError(f"'{value}' is not an e-mail address")
        return value


def _reason(**data: object) -> str:
    with pytest.raises(ValidationError) as refused:
        Shape.model_validate(data)
    (error,) = refused.value.errors()
    return plain_reason(error)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"email": "foo@bar"}, "'foo@bar' is not an e-mail address"),
        ({"shout": "hello"}, "capital letters only, such as HELLO"),
        ({"bare": "A"}, "not in the form this field accepts"),
        ({"title": ""}, "must not be empty"),
        ({"title": "toolong"}, "must be at most 5 characters"),
        ({"code": "ab"}, "must be at least 3 characters"),
        ({"lead_id": "not-a-uuid"}, "not an id: ids are UUIDs such as 123e4567-e89b-42d3-a456-426614174000"),
        ({"count": 0}, "must be at least 1"),
        ({"count": 11}, "must be at most 10"),
        ({"count": "many"}, "must be a whole number"),
        ({"kind": "c"}, "must be 'a' or 'b'"),
        ({"at": "tomorrow"}, "must be a date and time such as 2026-12-04T09:00:00Z"),
        ({"tags": ["x", "y", "z"]}, "must have at most 2 items"),
        ({"unknown": 1}, "unknown field"),
    ],
)
def test_each_kind_of_error_reads_as_a_reason(data: dict[str, object], reason: str) -> None:
    assert _reason(**data) == reason


def test_a_kind_without_its_own_words_loses_pydantics_subject() -> None:
    error: ErrorDetails = {
        "type": "url_parsing",
        "loc": ("site",),
        "msg": "Input should be a valid URL, empty host",
        "input": "",
    }
    assert plain_reason(error) == "must be a valid URL, empty host"

"""The NUL character (U+0000) in request input: PostgreSQL `text` and `jsonb` cannot store it, so a value holding
one is refused up front as a 422 naming its field, instead of failing in the database as a 500."""

from typing import Any, TypeVar

from pydantic import BaseModel, field_validator

NUL = "\x00"
NUL_REASON = "contains a NUL character (\\u0000), which cannot be stored"

T = TypeVar("T")


def contains_nul(value: Any) -> bool:
    """Whether a string, or any key or value nested in a dict or list, holds a NUL character."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    if isinstance(value, BaseModel):  # a nested shape (a voice script, answer hours) validated before its parent
        return any(contains_nul(getattr(value, name)) for name in type(value).model_fields)
    return False


def reject_nul(value: T) -> T:
    """A pydantic validator: the value unchanged, or a ValueError when it holds a NUL character."""
    if contains_nul(value):
        raise ValueError(NUL_REASON)
    return value


class NulFreeModel(BaseModel):
    """Base of request bodies whose values are stored: no field, however nested, may hold a NUL character."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return reject_nul(value)

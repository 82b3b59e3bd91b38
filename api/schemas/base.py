"""The bases most request and response shapes share: what a body that gets stored always refuses, and how a
response is read off a database row."""

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from api.schemas.nul import NulFreeModel

Shape = TypeVar("Shape", bound=BaseModel)


class InputBody(NulFreeModel):
    """A request body whose values are stored: unknown fields are a 422, text is trimmed, no NUL character."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FromRow(BaseModel):
    """A response built from an ORM row's attributes (`Shape.model_validate(row)`)."""

    model_config = ConfigDict(from_attributes=True)


class RowWithId(FromRow):
    """A response of a row that has a uuid primary key, listed first."""

    id: uuid.UUID


def from_row(shape: type[Shape], row: object, **given: Any) -> Shape:
    """`shape` built from the attributes of `row` that bear its fields' names, and from `given`: the fields the row
    has not, or holds in another form (validated as if passed to the constructor)."""
    values = {name: getattr(row, name) for name in shape.model_fields if name not in given and hasattr(row, name)}
    return shape.model_validate({**values, **given})

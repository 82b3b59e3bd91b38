"""Domain services behind the HTTP routes: keyword-only functions that use repositories and never commit."""

import uuid
from typing import TypeVar

from core.errors import NotFound

Row = TypeVar("Row")


def not_found(entity: str, entity_id: uuid.UUID) -> NotFound:
    """The 404 of an id that is not in the caller's tenant: "<entity> <id> not found", with `details.<entity>_id`."""
    return NotFound(f"{entity} {entity_id} not found", details={f"{entity}_id": str(entity_id)})


def found(row: Row | None, entity: str, entity_id: uuid.UUID) -> Row:
    """The row a lookup by id answered, or the 404 of `not_found` when it answered None."""
    if row is None:
        raise not_found(entity, entity_id)
    return row

"""The `Idempotency-Key` request header of the create endpoints, and the fingerprint that tells its replays apart.

A client that did not get an answer (timeout, 503) sends the same request again with the same key and gets the
first request's result instead of a second resource. The same key with a different body is a client bug: 422, as
the IETF idempotency-key draft has it, rather than silently answering for the other request.
"""

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header

from core.errors import Unprocessable
from core.validation_messages import readable_pattern

KEY_MAX_LENGTH = 100

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=readable_pattern(r"^[\x21-\x7e]+$", "visible ASCII characters only, no spaces (a UUID will do)"),
        description="any unique string (a UUID) per intended create; the same key again answers the first result",
    ),
]

# Set on an answer that repeats the result of an earlier request with the same Idempotency-Key.
REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of a request's normalised fields: equal for a retry, different for any other request."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeyReused(Unprocessable):
    """422: the key already belongs to another request; names what that request created, when it is known."""

    def __init__(self, key: str, *, resource: str, resource_id: str | None, field: str = "Idempotency-Key") -> None:
        created = f" (which created {resource} {resource_id})" if resource_id is not None else ""
        super().__init__(
            f"{field} '{key}' was already used for another request{created}; send a new key with a new request",
            details=[{"field": field, "reason": "used for another request", f"{resource}_id": resource_id}],
        )

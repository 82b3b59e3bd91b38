"""The `Principal`: the authenticated caller of one request, whatever the credential (session cookie or API key)."""

import uuid
from dataclasses import dataclass, field
from typing import Literal

from core.errors import Forbidden
from domain.permissions import Role


@dataclass(frozen=True)
class Principal:
    role: Role
    tenant_id: uuid.UUID | None
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    via: Literal["session", "api_key"]
    session_id: str | None = None
    # For an API key: the person who created it (None when no person did, or they were deleted).
    api_key_creator_id: uuid.UUID | None = None
    # The session's double-submit token; never part of equality or repr so it cannot leak into logs.
    csrf_token: str | None = field(default=None, compare=False, repr=False)

    def tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise Forbidden("this endpoint works on one tenant's data; your account belongs to no tenant")
        return self.tenant_id

    @property
    def accountable_user_id(self) -> uuid.UUID | None:
        """The person whose current role caps this caller: the logged-in user, or the person behind the API key.

        A key created with this caller is recorded as created by that person, so the cap and the deactivation of its
        creator reach every key down the chain."""
        return self.user_id if self.via == "session" else self.api_key_creator_id

    @property
    def actor(self) -> str:
        """How the timeline names who did something."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"

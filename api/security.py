"""Who is calling: the `Principal` behind a request (session cookie or API key) and the permission check.

Contract used by every route:
    principal: Annotated[Principal, Depends(require(Action.LEAD_READ))]
`require` answers 401 without credentials and 403 when the role lacks the action; `principal.tenant()` answers 403
for a caller without a tenant (a system_admin on a tenant-scoped endpoint).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from core.errors import Forbidden, Unauthorized
from domain.permissions import Action, Role, allowed


@dataclass(frozen=True)
class Principal:
    role: Role
    tenant_id: uuid.UUID | None
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    via: Literal["session", "api_key"]
    session_id: str | None = None

    def tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise Forbidden("this endpoint works on one tenant's data; your account belongs to no tenant")
        return self.tenant_id

    @property
    def actor(self) -> str:
        """How the timeline names who did something."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"


async def authenticate(request: Request) -> Principal | None:
    """Resolve the caller from `Authorization: Bearer <api key>` or the session cookie; None when neither is valid.

    Implemented in api/auth/ (sessions in Redis, API keys hashed in the database).
    """
    from api.auth.resolve import resolve_principal

    return await resolve_principal(request)


def require(action: Action) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            raise Unauthorized("log in or send 'Authorization: Bearer <api key>'")
        if not allowed(principal.role, action):
            raise Forbidden(f"role '{principal.role}' may not perform '{action}'")
        return principal

    return dependency

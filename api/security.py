"""Who is calling: the `Principal` behind a request (session cookie or API key) and the permission check.

Contract used by every route:
    principal: Annotated[Principal, Depends(require(Action.LEAD_READ))]
`require` answers 401 without credentials, 403 when a cookie-authenticated write lacks its CSRF token (api/auth/
csrf.py), and 403 when the role lacks the action in domain/permissions.py `MATRIX`. `principal.tenant()` answers 403
for a caller without a tenant (a system_admin on a tenant-scoped endpoint), and 403 `feature_disabled` when the
action belongs to a feature whose flag is off for the caller's tenant (domain/feature_flags.py `GATED_ACTIONS`).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth.csrf import enforce_csrf
from api.auth.principal import Principal
from api.auth.resolve import resolve_principal
from api.deps import SessionDep
from api.openapi import raises
from core.errors import FeatureDisabled, Forbidden, NotFound, Unauthorized
from core.feature_flags import FeatureFlagReader
from domain.feature_flags import GATED_ACTIONS, disabled_message
from domain.permissions import Action, allowed
from models import Tenant
from repositories.tenants import TenantRepository

__all__ = ["Authenticated", "CurrentTenant", "Principal", "authenticate", "authenticated", "require"]


async def authenticate(request: Request, session: SessionDep) -> Principal | None:
    """Resolve the caller from `Authorization: Bearer <api key>` or the session cookie; None when neither is valid."""
    return await resolve_principal(request, session)


# Declared so OpenAPI documents the scheme (and /docs can send a key); the header itself is read in api/auth/resolve.
_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey", description="an API key: `Authorization: Bearer lf_...`")


# 503: a session needs Redis, an API key the database.
@raises(401, 403, 503)
async def authenticated(
    request: Request,
    session: SessionDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    """Any authenticated caller, whatever their role (CSRF still enforced)."""
    principal = await authenticate(request, session)
    if principal is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <api key>'")
    enforce_csrf(request, principal)
    return principal


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    @raises(401, 403, 503)
    async def dependency(
        request: Request,
        session: SessionDep,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> Principal:
        principal = await authenticated(request, session)
        if not allowed(principal.role, action):
            raise Forbidden(f"role '{principal.role}' may not perform '{action}'")
        flag = GATED_ACTIONS.get(action)
        if flag is not None and principal.tenant_id is not None:
            flags: FeatureFlagReader = request.app.state.feature_flags
            if not await flags.enabled(principal.tenant_id, flag):
                raise FeatureDisabled(disabled_message(flag), details={"flag": flag.value})
        return principal

    return dependency


Authenticated = Annotated[Principal, Depends(authenticated)]


@raises(401, 403, 503)
async def current_tenant(principal: Authenticated, session: SessionDep) -> Tenant:
    """The caller's tenant (its slug, region, time zone); 403 for a caller without one (a system admin)."""
    tenant = await TenantRepository(session).get(principal.tenant())
    if tenant is None:  # a principal always points at an existing tenant, unless it was deleted meanwhile
        raise NotFound("your tenant no longer exists")
    return tenant


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]

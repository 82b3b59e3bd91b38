"""Who is calling: the `Principal` behind a request (session cookie or API key) and the permission check.

Contract used by every route: a parameter typed by the alias of the action it needs (the aliases at the end),
    principal: LeadReader  # = Annotated[Principal, Depends(require(Action.LEAD_READ))]
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

__all__ = [
    "AgentManager",
    "ApiKeyManager",
    "Authenticated",
    "CallPlacer",
    "CallReader",
    "CurrentTenant",
    "DraftWorker",
    "EnrollmentManager",
    "EnrollmentReader",
    "FlagManager",
    "InboxManager",
    "LeadDeleter",
    "LeadImporter",
    "LeadReader",
    "LeadWriter",
    "Principal",
    "SequenceManager",
    "SequenceReader",
    "ShardManager",
    "StatusManager",
    "StatusReader",
    "TaskWorker",
    "TelephonyAccountManager",
    "TenantCreator",
    "TenantLister",
    "TenantSettingsEditor",
    "UsageReader",
    "UserManager",
    "UserReader",
    "WhatsAppAccountManager",
    "authenticate",
    "authenticated",
    "require",
]


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


Authenticated = Annotated[Principal, Depends(authenticated)]


def require(action: Action) -> Callable[..., Awaitable[Principal]]:
    @raises(401, 403, 503)
    async def dependency(request: Request, principal: Authenticated) -> Principal:
        if not allowed(principal.role, action):
            raise Forbidden(f"role '{principal.role}' may not perform '{action}'")
        flag = GATED_ACTIONS.get(action)
        if flag is not None and principal.tenant_id is not None:
            flags: FeatureFlagReader = request.app.state.feature_flags
            if not await flags.enabled(principal.tenant_id, flag):
                raise FeatureDisabled(disabled_message(flag), details={"flag": flag.value})
        return principal

    return dependency


@raises(401, 403, 503)
async def current_tenant(principal: Authenticated, session: SessionDep) -> Tenant:
    """The caller's tenant (its slug, region, time zone); 403 for a caller without one (a system admin)."""
    tenant = await TenantRepository(session).get(principal.tenant())
    if tenant is None:  # a principal always points at an existing tenant, unless it was deleted meanwhile
        raise NotFound("your tenant no longer exists")
    return tenant


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]


# The caller of a route, allowed the one action the alias names (a route's `principal: LeadReader`).
LeadReader = Annotated[Principal, Depends(require(Action.LEAD_READ))]
LeadWriter = Annotated[Principal, Depends(require(Action.LEAD_WRITE))]
LeadDeleter = Annotated[Principal, Depends(require(Action.LEAD_DELETE))]
LeadImporter = Annotated[Principal, Depends(require(Action.LEAD_IMPORT))]
StatusReader = Annotated[Principal, Depends(require(Action.STATUS_READ))]
StatusManager = Annotated[Principal, Depends(require(Action.STATUS_MANAGE))]
UserReader = Annotated[Principal, Depends(require(Action.USER_READ))]
UserManager = Annotated[Principal, Depends(require(Action.USER_MANAGE))]
TenantCreator = Annotated[Principal, Depends(require(Action.TENANT_CREATE))]
TenantLister = Annotated[Principal, Depends(require(Action.TENANT_LIST))]
TenantSettingsEditor = Annotated[Principal, Depends(require(Action.TENANT_SETTINGS))]
ApiKeyManager = Annotated[Principal, Depends(require(Action.API_KEY_MANAGE))]
SequenceReader = Annotated[Principal, Depends(require(Action.SEQUENCE_READ))]
SequenceManager = Annotated[Principal, Depends(require(Action.SEQUENCE_MANAGE))]
EnrollmentReader = Annotated[Principal, Depends(require(Action.ENROLLMENT_READ))]
EnrollmentManager = Annotated[Principal, Depends(require(Action.ENROLLMENT_MANAGE))]
TaskWorker = Annotated[Principal, Depends(require(Action.TASK_WORK))]
CallReader = Annotated[Principal, Depends(require(Action.CALL_READ))]
CallPlacer = Annotated[Principal, Depends(require(Action.CALL_PLACE))]
TelephonyAccountManager = Annotated[Principal, Depends(require(Action.TELEPHONY_ACCOUNT_MANAGE))]
WhatsAppAccountManager = Annotated[Principal, Depends(require(Action.WHATSAPP_ACCOUNT_MANAGE))]
ShardManager = Annotated[Principal, Depends(require(Action.WHATSAPP_SHARD_MANAGE))]
AgentManager = Annotated[Principal, Depends(require(Action.AI_AGENT_MANAGE))]
UsageReader = Annotated[Principal, Depends(require(Action.AI_USAGE_READ))]
DraftWorker = Annotated[Principal, Depends(require(Action.AI_DRAFT_WORK))]
FlagManager = Annotated[Principal, Depends(require(Action.FEATURE_FLAG_MANAGE))]
InboxManager = Annotated[Principal, Depends(require(Action.WEBHOOK_INBOX_MANAGE))]

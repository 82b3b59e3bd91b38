"""Login, logout and "who am I" under /api/v1/auth.

Login answers the same 401 for an unknown e-mail and a wrong password, counts failures per account and per client IP
(api/auth/ratelimit.py), and on success opens a server-side session: an HttpOnly, SameSite=Lax session cookie and a
readable CSRF cookie whose value writes must echo in `X-CSRF-Token` (api/auth/csrf.py).
"""

from fastapi import APIRouter, Request, Response
from redis.asyncio import Redis

from api.auth.ratelimit import LoginLimits, LoginRateLimiter
from api.auth.sessions import session_store, session_store_reachable
from api.client_address import client_address
from api.deps import RedisDep, SessionDep, SettingsDep
from api.schemas.auth import (
    ApiKeySummary,
    LoginRequest,
    LoginResponse,
    Me,
    PasswordChange,
    TemporalUi,
    TenantSummary,
)
from api.schemas.users import UserPublic
from api.security import Authenticated
from api.services import api_keys as api_key_service
from api.services import calls as call_service
from api.services import conversations as conversation_service
from api.services import tenants as tenant_service
from api.services import users as user_service
from api.transaction import after_commit
from core.config import Settings
from core.errors import AppError, Forbidden, Unauthorized
from core.rate_limits import RateLimiter
from core.redis import Keys
from domain.permissions import Action, actions_of

router = APIRouter(prefix="/auth", tags=["auth"])

BAD_CREDENTIALS = "wrong e-mail or password"
DEACTIVATED = "this account is deactivated; ask an owner or admin of your tenant"


def _limiter(redis: Redis, settings: Settings) -> LoginRateLimiter:
    limits = LoginLimits(
        max_failures_per_account=settings.login_max_failures_per_account,
        max_failures_per_ip=settings.login_max_failures_per_ip,
        window_seconds=settings.login_window_seconds,
    )
    return LoginRateLimiter(redis, Keys(settings.redis_prefix), limits)


@router.post(
    "/login",
    responses={
        401: {"description": "wrong e-mail or password"},
        403: {"description": "the account is deactivated, or changed during the login"},
        429: {"description": "locked; see Retry-After"},
    },
)
async def login(
    data: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
) -> LoginResponse:
    """Log in with e-mail and password; sets the session and CSRF cookies."""
    ip = client_address(request, settings.trusted_proxies)
    limiter = _limiter(redis, settings)
    # Without Redis there is neither a rate limit nor a session: refuse (503) rather than log in unthrottled.
    async with session_store_reachable():
        await limiter.begin_attempt(email=data.email, ip=ip)
    user = await user_service.authenticate_user(session, email=data.email, password=data.password)
    if user is None:
        raise Unauthorized(BAD_CREDENTIALS)  # the attempt stays counted as a failure
    store = session_store(request)
    async with session_store_reachable():
        await limiter.succeeded(email=data.email, ip=ip)
        if not user.is_active:
            raise Forbidden(DEACTIVATED)
        # A login replaces the browser's previous session rather than leaving it alive behind the new cookie.
        previous = request.cookies.get(settings.session_cookie_name)
        if previous and (old := await store.get(previous)) is not None:
            await store.revoke(session_id=old.session_id, user_id=old.user_id)
        opened = await store.create(user_id=user.id, tenant_id=user.tenant_id, role=user.role)
        # A deactivation, role or password change may have committed while the password was being checked, its
        # sweep of the user's sessions running before this one existed. Re-read the row now: a change committed
        # later sweeps this session itself, so one side always catches the other.
        checked = (user.role, user.password_hash)
        await user_service.reread_user(session, user=user)
        if not user.is_active or (user.role, user.password_hash) != checked:
            await store.revoke(session_id=opened.data.session_id, user_id=user.id)
            if not user.is_active:
                raise Forbidden(DEACTIVATED)
            raise Forbidden("your account changed while you were logging in; log in again")
    cookie = {"max_age": settings.session_ttl_seconds, "secure": settings.cookie_secure, "samesite": "lax"}
    response.set_cookie(settings.session_cookie_name, opened.token, httponly=True, **cookie)  # type: ignore[arg-type]
    response.set_cookie(settings.csrf_cookie_name, opened.csrf_token, httponly=False, **cookie)  # type: ignore[arg-type]
    return LoginResponse(user=UserPublic.model_validate(user), csrf_token=opened.csrf_token)


@router.post("/logout", status_code=204, responses={400: {"description": "the caller is an API key, not a session"}})
async def logout(principal: Authenticated, request: Request, settings: SettingsDep) -> Response:
    """End the current session on the server and clear its cookies."""
    if principal.via != "session" or principal.session_id is None or principal.user_id is None:
        raise AppError("logout ends a cookie session; an API key is revoked with DELETE /api/v1/api-keys/{id}")
    async with session_store_reachable():
        await session_store(request).revoke(session_id=principal.session_id, user_id=principal.user_id)
    response = Response(status_code=204)
    response.delete_cookie(settings.session_cookie_name, secure=settings.cookie_secure, httponly=True, samesite="lax")
    response.delete_cookie(settings.csrf_cookie_name, secure=settings.cookie_secure, samesite="lax")
    return response


@router.post(
    "/password",
    status_code=204,
    responses={
        400: {"description": "the caller is an API key, not a session"},
        403: {"description": "the current password is wrong"},
        429: {"description": "too many attempts; see Retry-After"},
    },
)
async def change_password(
    data: PasswordChange, principal: Authenticated, request: Request, session: SessionDep
) -> Response:
    """Change your own password, proving the current one; every other session of yours ends, this one stays."""
    if principal.via != "session" or principal.session_id is None or principal.user_id is None:
        raise AppError("a password belongs to a user: log in to change yours")
    limits: RateLimiter = request.app.state.rate_limits
    store = session_store(request)
    async with session_store_reachable():
        await limits.hit("password", str(principal.user_id))
        await user_service.change_own_password(
            session, user_id=principal.user_id, current_password=data.current_password, new_password=data.new_password
        )
        # Before the commit (Redis down: refused, the old sessions must not outlive the old password) and after it,
        # so a login that slipped in between with the old password does not survive either.
        await store.revoke_others(user_id=principal.user_id, keep_session_id=principal.session_id)
        await limits.reset("password", str(principal.user_id))
    user_id, keep = principal.user_id, principal.session_id

    async def sweep_again() -> None:
        await store.revoke_others(user_id=user_id, keep_session_id=keep)

    after_commit(session, sweep_again, failure=None)
    return Response(status_code=204)


@router.get("/me")
async def me(request: Request, principal: Authenticated, session: SessionDep, settings: SettingsDep) -> Me:
    """The caller: their role and tenant, and the user or API key they authenticated as."""
    tenant = None
    if principal.tenant_id is not None:
        tenant = TenantSummary.model_validate(await tenant_service.get_tenant(session, tenant_id=principal.tenant_id))
    user = None
    if principal.user_id is not None:
        found = await user_service.get_any_user(session, user_id=principal.user_id)
        user = UserPublic.model_validate(found)
    api_key = None
    if principal.api_key_id is not None and principal.tenant_id is not None:
        key = await api_key_service.get_api_key(session, tenant_id=principal.tenant_id, api_key_id=principal.api_key_id)
        api_key = ApiKeySummary.model_validate(key)
    permissions = sorted(actions_of(principal.role))
    temporal_ui = None
    # The Temporal Web UI shows every payload of a tenant's workflows: for the people who run the tenant.
    if Action.USER_MANAGE in permissions:
        temporal_ui = TemporalUi(url=settings.temporal_ui_url, namespace=settings.temporal_namespace)
    calls = None
    if Action.CALL_PLACE in permissions and principal.tenant_id is not None:
        calls = await call_service.call_options(
            session=session, flags=request.app.state.feature_flags, tenant_id=principal.tenant_id
        )
    whatsapp = None
    if Action.LEAD_WRITE in permissions and principal.tenant_id is not None:
        whatsapp = await conversation_service.whatsapp_options(session, principal.tenant_id)
    return Me(
        via=principal.via,
        role=principal.role,
        tenant=tenant,
        user=user,
        api_key=api_key,
        permissions=permissions,
        telephony=calls is not None,
        calls=calls,
        whatsapp=whatsapp,
        temporal_ui=temporal_ui,
    )

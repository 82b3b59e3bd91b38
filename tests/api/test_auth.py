"""Login, logout, /auth/me and session lifetime, through the HTTP API against real PostgreSQL and Redis."""

import asyncio
import threading

import httpx
import pytest

from api.app import create_app
from core.redis import Keys
from core.security import token_digest
from tests.fixtures.crm import PASSWORD, login

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


async def test_login_sets_an_httponly_session_cookie_and_a_readable_csrf_cookie(make_client, tenant, settings) -> None:
    async with make_client() as c:
        response = await c.post(LOGIN, json={"email": tenant.agent.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == tenant.agent.email
    assert body["user"]["role"] == "agent"
    assert "password_hash" not in body["user"]
    cookies = {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}
    session_cookie = cookies[settings.session_cookie_name]
    csrf_cookie = cookies[settings.csrf_cookie_name]
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert "HttpOnly" not in csrf_cookie
    assert f"{settings.csrf_cookie_name}={body['csrf_token']};" in csrf_cookie


async def test_me_answers_the_logged_in_user_and_their_tenant(make_client, tenant) -> None:
    async with make_client() as c:
        await login(c, tenant.admin.email.upper(), PASSWORD)  # e-mail is case-insensitive
        response = await c.get(ME)
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["via"] == "session"
    assert me["role"] == "admin"
    assert me["user"]["id"] == str(tenant.admin.id)
    assert me["tenant"] == {"id": str(tenant.tenant_id), "slug": tenant.slug, "name": tenant.name}
    assert me["api_key"] is None


async def test_me_lists_the_permissions_of_the_callers_role(make_client, tenant, system_admin) -> None:
    """The web app shows only what these allow; they are the matrix's, whatever the credential."""
    async with make_client() as c:
        await login(c, tenant.agent.email, PASSWORD)
        agent = (await c.get(ME)).json()["permissions"]
    assert "lead:read" in agent and "task:work" in agent
    assert "sequence:manage" not in agent and "user:manage" not in agent and "tenant:list" not in agent
    async with make_client() as c:
        owner = (await c.get(ME, headers=tenant.headers("owner"))).json()["permissions"]
        admin = (await c.get(ME, headers=system_admin.headers)).json()["permissions"]
    assert {"sequence:manage", "user:manage_owners", "tenant:settings"} <= set(owner) and "tenant:list" not in owner
    assert "tenant:list" in admin and "lead:read" not in admin
    assert agent == sorted(agent)


async def test_me_says_where_workflows_are_inspected_only_to_those_allowed(client, tenant, settings) -> None:
    owner = (await client.get(ME, headers=tenant.headers("owner"))).json()
    agent = (await client.get(ME, headers=tenant.headers("agent"))).json()
    assert owner["temporal_ui"] == {"url": settings.temporal_ui_url, "namespace": settings.temporal_namespace}
    assert agent["temporal_ui"] is None


async def test_me_with_an_api_key_names_the_key_never_the_secret(client, tenant) -> None:
    response = await client.get(ME, headers=tenant.headers("agent"))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["via"] == "api_key" and me["role"] == "agent" and me["user"] is None
    assert me["api_key"]["name"] == "agent key"
    assert tenant.api_keys["agent"].startswith(me["api_key"]["prefix"])
    assert tenant.api_keys["agent"] not in response.text


@pytest.mark.parametrize("email_of", ["wrong_password", "unknown_email"])
async def test_bad_credentials_are_one_401_whatever_was_wrong(make_client, tenant, fresh_ip, email_of) -> None:
    email = tenant.owner.email if email_of == "wrong_password" else "nobody-here@example.com"
    async with make_client(client_ip=fresh_ip) as c:
        response = await c.post(LOGIN, json={"email": email, "password": "not the password"})
        assert response.status_code == 401
        assert response.json()["message"] == "wrong e-mail or password"
        assert settings_cookie_absent(response)
        assert (await c.get(ME)).status_code == 401


def settings_cookie_absent(response: httpx.Response) -> bool:
    return not response.headers.get_list("set-cookie")


async def test_without_credentials_me_is_401(client) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert "log in" in response.json()["message"]


@pytest.mark.parametrize("authorization", ["Bearer lf_not-a-real-key", "Bearer ", "Basic abc", "lf_raw"])
async def test_an_invalid_authorization_header_is_401_even_with_a_valid_cookie(
    make_client, tenant, authorization
) -> None:
    async with make_client() as c:
        await login(c, tenant.owner.email, PASSWORD)
        response = await c.get(ME, headers={"Authorization": authorization})
    assert response.status_code == 401


async def test_login_validates_its_body_naming_the_field(client) -> None:
    response = await client.post(LOGIN, json={"email": "someone@example.com"})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "password"


async def test_a_nul_character_in_the_login_email_is_422_naming_it(client) -> None:
    response = await client.post(LOGIN, json={"email": "a\u0000@example.com", "password": PASSWORD})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "email"


async def test_logout_revokes_the_session_on_the_server(make_client, tenant, settings) -> None:
    async with make_client() as c:
        await login(c, tenant.agent.email, PASSWORD)
        stolen = c.cookies[settings.session_cookie_name]
        response = await c.post(LOGOUT)
        assert response.status_code == 204
        assert (await c.get(ME)).status_code == 401
    # A copy of the cookie taken before logout is worthless too: the session is gone from Redis.
    async with make_client(cookies={settings.session_cookie_name: stolen}) as replay:
        assert (await replay.get(ME)).status_code == 401


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"is_active": False}, "deactivated"),
        ({"role": "agent"}, "log in again"),
        ({"password": "a brand new passphrase"}, "log in again"),
    ],
    ids=["deactivated", "demoted", "new-password"],
)
async def test_a_login_racing_an_account_change_opens_no_session(
    client, make_client, tenant, settings, redis, monkeypatch, change: dict, needle: str
) -> None:
    """Checking the password takes a while (argon2); a deactivation, role or password change committed meanwhile
    must not leave that login with a live session carrying the old account."""
    import api.services.users as users_service

    real_verify = users_service.verify_password
    checking, resume = threading.Event(), threading.Event()

    def verify_then_wait(hash_: str | None, password: str) -> bool:
        ok = real_verify(hash_, password)
        checking.set()
        resume.wait(timeout=10)
        return ok

    monkeypatch.setattr(users_service, "verify_password", verify_then_wait)
    async with make_client() as admin:
        logging_in = asyncio.create_task(admin.post(LOGIN, json={"email": tenant.admin.email, "password": PASSWORD}))
        assert await asyncio.to_thread(checking.wait, 10)
        changed = await client.patch(f"/api/v1/users/{tenant.admin.id}", json=change, headers=tenant.headers())
        assert changed.status_code == 200, changed.text
        resume.set()
        response = await logging_in
        assert response.status_code == 403, response.text
        assert needle in response.json()["message"]
        assert (await admin.get(ME)).status_code == 401
    assert await redis.smembers(Keys(settings.redis_prefix)("user_sessions", tenant.admin.id)) == set()


async def test_logout_ends_only_that_session(make_client, tenant) -> None:
    async with make_client() as laptop, make_client() as phone:
        await login(laptop, tenant.owner.email, PASSWORD)
        await login(phone, tenant.owner.email, PASSWORD)
        assert (await laptop.post(LOGOUT)).status_code == 204
        assert (await phone.get(ME)).status_code == 200


async def test_logout_with_an_api_key_is_refused_and_the_key_keeps_working(client, tenant) -> None:
    response = await client.post(LOGOUT, headers=tenant.headers())
    assert response.status_code == 400
    assert "api-keys" in response.json()["message"]
    assert (await client.get(ME, headers=tenant.headers())).status_code == 200


async def test_a_session_expires_after_its_ttl(make_client, tenant, settings, redis) -> None:
    async with make_client() as c:
        response = await login(c, tenant.agent.email, PASSWORD)
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(settings.session_cookie_name))
        assert f"Max-Age={settings.session_ttl_seconds}" in cookie
        key = Keys(settings.redis_prefix)("session", token_digest(c.cookies[settings.session_cookie_name]))
        assert 0 < await redis.ttl(key) <= settings.session_ttl_seconds
        await redis.expire(key, 0)  # the TTL running out, without waiting for it
        assert (await c.get(ME)).status_code == 401


async def test_a_short_session_ttl_from_settings_is_applied(settings, tenant) -> None:
    short = settings.model_copy(update={"session_ttl_seconds": 7})
    app = create_app(short)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await login(c, tenant.agent.email, PASSWORD)
            key = Keys(short.redis_prefix)("session", token_digest(c.cookies[short.session_cookie_name]))
            assert 0 < await app.state.redis.ttl(key) <= 7


async def test_logging_in_again_replaces_the_browsers_previous_session(make_client, tenant, settings) -> None:
    async with make_client() as c:
        await login(c, tenant.agent.email, PASSWORD)
        first = c.cookies[settings.session_cookie_name]
        await login(c, tenant.admin.email, PASSWORD)
        assert (await c.get(ME)).json()["role"] == "admin"
    async with make_client(cookies={settings.session_cookie_name: first}) as replay:
        assert (await replay.get(ME)).status_code == 401


async def test_with_redis_down_sessions_answer_503_and_api_keys_keep_working(settings, tenant) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            refused = await c.post(LOGIN, json={"email": tenant.agent.email, "password": PASSWORD})
            assert refused.status_code == 503
            assert "session store (Redis) is unreachable" in refused.json()["message"]
            c.cookies.set(broken.session_cookie_name, "whatever")
            assert (await c.get(ME)).status_code == 503
            c.cookies.clear()
            by_key = await c.get(ME, headers=tenant.headers("agent"))
            assert by_key.status_code == 200, by_key.text
            deactivate = await c.post(f"/api/v1/users/{tenant.agent.id}/deactivate", headers=tenant.headers())
            assert deactivate.status_code == 503
            # Refused as a whole: the user is still active, since their sessions could not be ended.
            assert (await c.get(f"/api/v1/users/{tenant.agent.id}", headers=tenant.headers())).json()["is_active"]

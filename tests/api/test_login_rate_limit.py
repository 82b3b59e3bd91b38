"""Login rate limit: after N failures per account (or per client IP) in the window, 429 with Retry-After."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from ipaddress import ip_network

import httpx
import pytest

from api.app import create_app
from core.config import Settings
from tests.fixtures.crm import PASSWORD
from tests.fixtures.prod import prod_api

LOGIN = "/api/v1/auth/login"


def _attempt(client: httpx.AsyncClient, email: str, password: str = "wrong password"):
    return client.post(LOGIN, json={"email": email, "password": password})


def _assert_locked(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert response.json()["details"]["retry_after_seconds"] == retry_after
    assert f"try again in {retry_after} seconds" in response.json()["message"]


@pytest.fixture
def limited_app(settings) -> Callable[..., AbstractAsyncContextManager[Callable[[str], httpx.AsyncClient]]]:
    """An app with small limits; yields a factory of clients that appear to come from a given IP."""

    @asynccontextmanager
    async def factory(**limits: int) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
        app = create_app(settings.model_copy(update=limits))
        async with app.router.lifespan_context(app):

            def client_from(ip: str) -> httpx.AsyncClient:
                transport = httpx.ASGITransport(app=app, client=(ip, 40000))
                return httpx.AsyncClient(transport=transport, base_url="http://testserver")

            yield client_from

    return factory


async def test_an_account_locks_after_its_failures_even_for_the_right_password(
    make_client, tenant, settings, fresh_ip
) -> None:
    limit = settings.login_max_failures_per_account
    async with make_client(client_ip=fresh_ip) as c:
        for _ in range(limit):
            assert (await _attempt(c, tenant.agent.email)).status_code == 401
        _assert_locked(await _attempt(c, tenant.agent.email), settings.login_window_seconds)
        _assert_locked(await _attempt(c, tenant.agent.email, PASSWORD), settings.login_window_seconds)
        # The lock is the account's: the same address differently cased is the same account ...
        _assert_locked(await _attempt(c, tenant.agent.email.upper(), PASSWORD), settings.login_window_seconds)
        # ... and another account from the same IP is unaffected.
        assert (await _attempt(c, tenant.admin.email, PASSWORD)).status_code == 200


async def test_the_account_lock_holds_from_every_ip(make_client, tenant, settings, fresh_ip) -> None:
    async with make_client(client_ip=fresh_ip) as c:
        for _ in range(settings.login_max_failures_per_account):
            await _attempt(c, tenant.owner.email)
    async with make_client(client_ip=fresh_ip.rsplit(".", 1)[0] + ".251") as elsewhere:
        _assert_locked(await _attempt(elsewhere, tenant.owner.email, PASSWORD), settings.login_window_seconds)


async def test_unknown_accounts_lock_the_same_way(make_client, settings, fresh_ip) -> None:
    ghost = f"ghost-{uuid.uuid4().hex}@example.com"
    async with make_client(client_ip=fresh_ip) as c:
        for _ in range(settings.login_max_failures_per_account):
            response = await _attempt(c, ghost)
            assert response.status_code == 401
        _assert_locked(await _attempt(c, ghost), settings.login_window_seconds)


async def test_success_resets_the_account_counter(make_client, tenant, settings, fresh_ip) -> None:
    limit = settings.login_max_failures_per_account
    async with make_client(client_ip=fresh_ip) as c:
        for _ in range(limit - 1):
            await _attempt(c, tenant.agent.email)
        assert (await _attempt(c, tenant.agent.email, PASSWORD)).status_code == 200
        for _ in range(limit - 1):
            assert (await _attempt(c, tenant.agent.email)).status_code == 401
        assert (await _attempt(c, tenant.agent.email, PASSWORD)).status_code == 200


async def test_an_ip_locks_after_its_failures_across_accounts(limited_app, tenant, fresh_ip) -> None:
    async with limited_app(login_max_failures_per_ip=3, login_window_seconds=120) as client_from:
        async with client_from(fresh_ip) as c:
            for n in range(3):
                assert (await _attempt(c, f"someone-{n}@example.com")).status_code == 401
            _assert_locked(await _attempt(c, tenant.owner.email, PASSWORD), 120)
            assert "your address" in (await _attempt(c, "new@example.com")).json()["message"]
        async with client_from(fresh_ip.rsplit(".", 1)[0] + ".252") as other_ip:
            assert (await _attempt(other_ip, tenant.owner.email, PASSWORD)).status_code == 200


async def test_success_does_not_reset_the_ip_counter(limited_app, tenant, fresh_ip) -> None:
    async with limited_app(login_max_failures_per_ip=3) as client_from:
        async with client_from(fresh_ip) as c:
            await _attempt(c, "a@example.com")
            await _attempt(c, "b@example.com")
            assert (await _attempt(c, tenant.owner.email, PASSWORD)).status_code == 200
            assert (await _attempt(c, "c@example.com")).status_code == 401
            assert (await _attempt(c, tenant.admin.email, PASSWORD)).status_code == 429


async def test_a_parallel_burst_gets_no_more_guesses_than_the_limit(make_client, tenant, settings, fresh_ip) -> None:
    limit = settings.login_max_failures_per_account
    async with make_client(client_ip=fresh_ip) as c:
        responses = await asyncio.gather(*(_attempt(c, tenant.owner.email) for _ in range(limit + 6)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [401] * limit + [429] * 6


async def test_a_spoofed_x_forwarded_for_does_not_give_a_direct_client_a_fresh_address(limited_app, fresh_ip) -> None:
    async with limited_app(login_max_failures_per_ip=3) as client_from:
        async with client_from(fresh_ip) as c:
            for n in range(3):
                headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
                response = await c.post(LOGIN, json={"email": f"x{n}@example.com", "password": "no"}, headers=headers)
                assert response.status_code == 401
            spoofed = {"X-Forwarded-For": "198.51.100.200"}
            response = await c.post(LOGIN, json={"email": "y@example.com", "password": "no"}, headers=spoofed)
            assert response.status_code == 429, response.text


async def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client(limited_app, fresh_ip) -> None:
    client_a, client_b = fresh_ip, fresh_ip.rsplit(".", 1)[0] + ".253"
    async with limited_app(login_max_failures_per_ip=3, trusted_proxies=[ip_network("127.0.0.0/8")]) as client_from:
        async with client_from("127.0.0.1") as proxy:

            def via_proxy(client: str, n: int):
                # What a proxy forwards: whatever the client sent, then the address it saw.
                headers = {"X-Forwarded-For": f"198.51.100.{n % 250 + 1}, {client}"}
                return proxy.post(LOGIN, json={"email": f"z{n}@example.com", "password": "no"}, headers=headers)

            assert [(await via_proxy(client_a, n)).status_code for n in range(4)] == [401, 401, 401, 429]
            assert (await via_proxy(client_b, 9)).status_code == 401


async def test_the_production_command_line_counts_spoofed_logins_per_real_client(settings, redis) -> None:
    """30 failed logins, each with a fresh spoofed X-Forwarded-For, through the prod uvicorn flags and a trusted
    proxy (here 127.0.0.1): the per-IP limit (20) still locks the client; another client behind it is unaffected."""
    prefix = f"leadflow-test-prod-{uuid.uuid4().hex[:8]}"
    limit = Settings.model_fields["login_max_failures_per_ip"].default
    try:
        async with prod_api(settings, LEADFLOW_REDIS_PREFIX=prefix, LEADFLOW_TRUSTED_PROXIES='["127.0.0.1"]') as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as proxy:

                async def login(client: str, n: int) -> int:
                    headers = {"X-Forwarded-For": f"198.51.{n // 250}.{n % 250 + 1}, {client}"}
                    body = {"email": f"spoof-{n}@example.com", "password": "wrong password"}
                    return (await proxy.post(LOGIN, json=body, headers=headers)).status_code

                codes = [await login("203.0.113.7", n) for n in range(30)]
                assert codes == [401] * limit + [429] * (30 - limit)
                assert await login("203.0.113.8", 30) == 401
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*"):
            await redis.delete(key)

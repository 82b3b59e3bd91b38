"""CSRF double submit: cookie-authenticated writes need `X-CSRF-Token` equal to the session's token."""

from tests.fixtures.crm import PASSWORD, login

STATUSES = "/api/v1/statuses"


def _status(key: str) -> dict:
    return {"key": key, "label": key.title(), "stage": "engaged"}


async def test_a_cookie_write_without_the_header_is_403_naming_it(make_client, tenant) -> None:
    async with make_client() as c:
        await login(c, tenant.owner.email, PASSWORD)
        del c.headers["X-CSRF-Token"]
        response = await c.post(STATUSES, json=_status("no-token"))
        assert response.status_code == 403
        assert response.json()["error"] == "csrf_failed"
        assert "missing X-CSRF-Token" in response.json()["message"]
        assert "no-token" not in (await c.get(STATUSES)).text  # reads need no token


async def test_a_wrong_token_is_403_and_the_right_one_passes(make_client, tenant) -> None:
    async with make_client() as c:
        await login(c, tenant.owner.email, PASSWORD)
        right = c.headers["X-CSRF-Token"]
        wrong = await c.post(STATUSES, json=_status("wrong"), headers={"X-CSRF-Token": right[:-2] + "xx"})
        assert wrong.status_code == 403
        assert "does not match" in wrong.json()["message"]
        ok = await c.post(STATUSES, json=_status("right"))
        assert ok.status_code == 201, ok.text
        for method in ("PATCH", "DELETE"):
            refused = await c.request(method, f"{STATUSES}/right", json={"label": "x"}, headers={"X-CSRF-Token": ""})
            assert refused.status_code == 403


async def test_another_sessions_token_is_refused(make_client, tenant) -> None:
    async with make_client() as mine, make_client() as theirs:
        await login(mine, tenant.owner.email, PASSWORD)
        await login(theirs, tenant.admin.email, PASSWORD)
        response = await mine.post(
            STATUSES, json=_status("crossed"), headers={"X-CSRF-Token": theirs.headers["X-CSRF-Token"]}
        )
        assert response.status_code == 403


async def test_logout_needs_the_token_too(make_client, tenant) -> None:
    async with make_client() as c:
        await login(c, tenant.agent.email, PASSWORD)
        token = c.headers.pop("X-CSRF-Token")
        assert (await c.post("/api/v1/auth/logout")).status_code == 403
        assert (await c.get("/api/v1/auth/me")).status_code == 200
        assert (await c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})).status_code == 204


async def test_bearer_requests_are_exempt(client, tenant) -> None:
    response = await client.post(STATUSES, json=_status("by-key"), headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text


async def test_login_needs_no_token(make_client, tenant) -> None:
    async with make_client() as c:
        response = await c.post("/api/v1/auth/login", json={"email": tenant.agent.email, "password": PASSWORD})
        assert response.status_code == 200

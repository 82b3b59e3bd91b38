import httpx


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_every_dependency_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "temporal": "ok"}


async def test_readyz_names_each_dependency_that_is_down(settings) -> None:
    from api.app import create_app

    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "temporal_address": "127.0.0.1:1"})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "not_ready" and "redis, temporal" in body["message"]
    assert body["details"]["down"] == ["redis", "temporal"]
    assert body["details"]["checks"]["database"] == "ok"
    assert body["details"]["checks"]["redis"].startswith("down:")

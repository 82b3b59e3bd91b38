"""Liveness and readiness probes."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check_db(request: Request) -> None:
    async with request.app.state.session_factory() as session:
        await session.execute(text("SELECT 1"))


async def _check_redis(request: Request) -> None:
    await request.app.state.redis.ping()


async def _check_temporal(request: Request) -> None:
    await request.app.state.temporal.service_client.check_health()


@router.get("/readyz", responses={503: {"description": "a dependency is down: details.down names each"}})
async def readyz(request: Request) -> JSONResponse:
    """200 when the database, Redis and Temporal answer; otherwise 503, an error answer like any other."""
    checks = {"database": _check_db, "redis": _check_redis, "temporal": _check_temporal}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(request), timeout=2.0)
            results[name] = "ok"
        except Exception as exc:  # a probe reports any failure as "down", with its reason
            results[name] = f"down: {type(exc).__name__}: {exc}"[:300]
    down = [name for name, state in results.items() if state != "ok"]
    if down:
        message = f"not ready: {', '.join(down)} cannot be reached"
        details = {"down": down, "checks": results}
        return JSONResponse({"error": "not_ready", "message": message, "details": details}, status_code=503)
    return JSONResponse({"status": "ready", "down": [], "checks": results})

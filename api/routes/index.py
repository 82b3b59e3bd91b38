"""`GET /`: where things are, so the API's base URL (printed by `./run up`) answers instead of a 404."""

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/", include_in_schema=False)
async def index() -> dict[str, str]:
    return {
        "name": "Leadflow API",
        "api": "/api/v1",
        "openapi": "/openapi.json",
        "docs": "/docs (Swagger UI), /redoc",
        "health": "/healthz",
        "ready": "/readyz",
    }

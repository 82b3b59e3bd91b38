"""The bare baseline of bench/crm_read.py: FastAPI and psycopg reading the same rows as `GET /api/v1/leads`, nothing
else (no authentication, no ORM, no transaction: autocommit connections from a small pool opened at start-up).

    LEADFLOW_DATABASE_URL=postgresql://... uvicorn bench.crm_read_bare:app --port N

`GET /leads?tenant_id=&limit=50`: the tenant's newest leads as JSON, what the API's list answers minus its work.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI
from psycopg.rows import dict_row

from core.config import Settings

POOL_SIZE = 10
LEADS_SQL = (
    "SELECT id, phone, name, email, source, owner_id, status_key, stage, timezone, custom_fields, created_at "
    "FROM lead WHERE tenant_id = %s ORDER BY created_at DESC, id DESC LIMIT %s"
)

pool: asyncio.Queue[psycopg.AsyncConnection[dict[str, Any]]] = asyncio.Queue()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    url = Settings().database_url
    if not url:
        raise SystemExit("LEADFLOW_DATABASE_URL is not set")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    for _slot in range(POOL_SIZE):
        pool.put_nowait(await psycopg.AsyncConnection.connect(dsn, autocommit=True, row_factory=dict_row))
    yield
    while not pool.empty():
        await pool.get_nowait().close()


app = FastAPI(lifespan=lifespan)


@app.get("/leads")
async def leads(tenant_id: uuid.UUID, limit: int = 50) -> dict[str, Any]:
    connection = await pool.get()
    try:
        cursor = await connection.execute(LEADS_SQL, (tenant_id, limit))
        rows = await cursor.fetchall()
    finally:
        pool.put_nowait(connection)
    return {"items": rows, "next_cursor": None}

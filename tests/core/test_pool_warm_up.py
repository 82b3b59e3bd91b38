"""The API opens its database pool at start-up (core/db.py `warm_pool`): the first burst of webhooks after a start
finds connections waiting instead of connecting while it is answered, and a database that is down at start-up costs
nothing but the attempt."""

from sqlalchemy import text

from core.config import Settings
from core.db import create_engine, warm_pool


async def test_warm_pool_leaves_the_connections_open_in_the_pool(settings: Settings) -> None:
    engine = create_engine(settings.model_copy(update={"db_pool_size": 4}))
    try:
        assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
        assert await warm_pool(engine, 4) == 4
        assert engine.pool.checkedin() == 4  # type: ignore[attr-defined]
        async with engine.connect() as connection:
            assert (await connection.execute(text("select 1"))).scalar() == 1
        assert engine.pool.checkedin() == 4  # type: ignore[attr-defined]  # reused, none added
    finally:
        await engine.dispose()


async def test_warm_pool_with_the_database_down_opens_nothing_and_does_not_raise(settings: Settings) -> None:
    # Nothing listens on port 9 of loopback: every connection is refused at once.
    down = settings.model_copy(update={"database_url": "postgresql://leadflow@127.0.0.1:9/leadflow"})
    engine = create_engine(down)
    try:
        assert await warm_pool(engine, 3) == 0
        assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()

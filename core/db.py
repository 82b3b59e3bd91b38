"""Async SQLAlchemy engine and session factory (psycopg 3), built once per process, and what counts as an outage."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.config import Settings

log = logging.getLogger(__name__)

# A pooled connection idle longer than this is pinged before it is handed out (a restarted or failed-over server has
# dropped it); one handed back moments ago is not: a burst of sends checks connections out hundreds of times a second,
# and a ping at each check-out was one more round trip per transaction (several per send).
PING_AFTER_IDLE_SECONDS = 1.0


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and point them at the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        async_url(settings.require_database_url()),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        connect_args={"connect_timeout": settings.db_connect_timeout_seconds},
    )
    _ping_when_idle(engine.sync_engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections idle longer than PING_AFTER_IDLE_SECONDS (a new connection is
    not idle): a dead one is replaced by a new connection before anyone uses it."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _fresh_or_returned(dbapi_connection: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        used_at = record.info.get("used_at")
        if used_at is not None and time.monotonic() - used_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # As `pool_pre_ping` does: this and every older pooled connection are replaced, and the check-out is
            # tried again on a new one.
            raise sa_exc.InvalidatePoolError(str(error)) from error


async def warm_pool(engine: AsyncEngine, connections: int) -> int:
    """Open `connections` pooled connections at once and hand them back to the pool, so the first burst of requests
    after a start does not pay for connecting (several milliseconds each, in the event loop, while requests wait).
    Best effort: with the database down nothing is opened and requests connect later as before. Answers how many
    connections were opened."""
    # All held at once, so each check-out opens a connection of its own rather than reusing one just returned.
    held = [engine.connect() for _ in range(connections)]
    try:
        results = await asyncio.gather(*(c.start() for c in held), return_exceptions=True)
    finally:
        await asyncio.gather(*(c.close() for c in held), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        log.info("pool warm-up: %d of %d connections not opened (%s)", len(failures), connections, failures[0])
    return connections - len(failures)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the same pool whose statements each commit on their own (autocommit): no BEGIN and COMMIT round
    trips around a request that only reads. Under READ COMMITTED every statement of a transaction takes its own
    snapshot anyway, so reads see what they would have seen inside one."""
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


@contextlib.asynccontextmanager
async def autocommit_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session of `factory` whose statements each commit on their own (as `create_read_session_factory`'s): for a
    few reads, or a single write, without BEGIN and COMMIT (or ROLLBACK) round trips around them."""
    async with factory() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or dropped the connection (stopped, restarting, failing
    over, every pooled connection busy): transient, so the caller should retry later rather than report a bug.

    PostgreSQL's operational errors (connection refused or lost, shutting down, cancelled, lock or serialization
    timeouts) are `OperationalError`; a connection closed under the driver is `InterfaceError`; any other DBAPI error
    SQLAlchemy saw on a connection it had to throw away counts too. Constraint or data errors do not.
    """
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    # A pool checkout that waited `pool_timeout` in vain.
    return isinstance(error, sa_exc.TimeoutError | psycopg.OperationalError | psycopg.InterfaceError)

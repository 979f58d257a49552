"""Async engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Users write plain URLs (`sqlite:///./imagerepo.db`, `postgresql://...`); the
async driver is chosen here so the same DATABASE_URL also works for tools that
expect a synchronous one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

# The database failed or cannot be reached: SQLAlchemy wraps the driver's errors, but a
# refused or timed-out connection may surface as the driver's OSError itself.
DB_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)

T = TypeVar("T")

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(database_url: str) -> URL:
    """Map a plain URL to its async driver; an explicit driver is kept as given."""
    url = make_url(database_url)
    if "+" not in url.drivername and url.drivername in ASYNC_DRIVERS:
        url = url.set(drivername=ASYNC_DRIVERS[url.drivername])
    return url


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        # One writer at a time: wait for the lock instead of failing at once.
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits together or not at all (no half-saved record)."""
    async with sessions() as session, session.begin():
        yield session


async def in_transaction(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    attempts: int = 3,
) -> T:
    """Run `work` in one transaction; again, on a fresh connection, when the database
    cut the connection under it (a PostgreSQL restart, a failover, an idle timeout).

    For the writes that record an outside effect that already happened (a Slack
    message was posted): failing would have it done again later. `work` must be
    safe to run twice: it reads, inside its transaction, what it is about to change.
    Any other error is raised at once.
    """
    for attempt in range(1, attempts):
        try:
            async with transaction(sessions) as session:
                return await work(session)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            await asyncio.sleep(0.2 * attempt)
    async with transaction(sessions) as session:
        return await work(session)


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query (used by /healthz). Every way a
    database can be unreachable is False: SQLAlchemy's wrapped driver errors (missing
    database, refused login, a SQLite file that cannot be opened), the driver's own
    socket errors (refused port, unknown host: asyncpg raises them unwrapped), and a
    connect timeout."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except DB_ERRORS:
        return False
    return True

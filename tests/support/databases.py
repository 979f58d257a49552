"""Real databases for the tests: a SQLite file, and a fresh PostgreSQL database per test.

PostgreSQL is the server this machine kind runs on 127.0.0.1:5432 (trust auth).
Without one the PostgreSQL cases are skipped, unless REQUIRE_POSTGRES=1 (CI), when
they fail: a green run must not hide that they never ran.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "") not in ("", "0", "false", "no")


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_available() -> bool:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    return True


def skip_or_fail_without_postgres() -> None:
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {ADMIN_DSN}"
    if postgres_required():
        pytest.fail(f"{message} and REQUIRE_POSTGRES=1", pytrace=False)
    pytest.skip(message)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its plain URL, drop it (with any open sessions)."""
    skip_or_fail_without_postgres()
    name = f"imagerepo_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'imagerepo.db'}"


async def terminate_backends(database: str) -> int:
    """What a PostgreSQL restart does to the bot: every connection it holds is cut."""
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return len(rows)

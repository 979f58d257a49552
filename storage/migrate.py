"""Schema migrations, run by `imagerepo-bot migrate` and at `serve` start.

Alembic is configured in code (no alembic.ini to keep beside the package) so an
installed bot migrates the database DATABASE_URL names, wherever it runs from.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from storage.db import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats '%' specially (URL-encoded passwords).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start (a no-op when current),
    and from any number of processes at once: PostgreSQL upgrades hold an advisory lock
    (migrations/env.py); SQLite ones an exclusive lock on a file beside the database
    (SQLite runs DDL outside transactions, so its own locking alone does not serialise
    two upgrades)."""
    with _sqlite_migration_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


@contextlib.contextmanager
def _sqlite_migration_lock(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    lock_path = Path(url.database).with_name(Path(url.database).name + ".migrate-lock")
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
        yield


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


class NotMigrated(Exception):
    """A database a read-only command will not touch: missing, empty, or behind."""


async def require_current(database_url: str) -> None:
    """For commands that only read (`audit`, `audit verify`): the database exists and is at
    the latest schema, or NotMigrated says what to do. Nothing is created: a mistyped
    DATABASE_URL must not become a fresh, empty database reported as "intact"."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        current = await asyncio.to_thread(_sqlite_revision, Path(url.database))
    else:
        current = await current_revision(database_url)
    if current is None:
        raise NotMigrated(
            "the database has no imagerepo-bot schema: check DATABASE_URL, or run "
            "`imagerepo-bot migrate` first"
        )
    if current != head_revision():
        raise NotMigrated(
            f"the database schema is at {current}, not the latest {head_revision()}: run "
            "`imagerepo-bot migrate` (or start `serve` once) first"
        )


def _sqlite_revision(path: Path) -> str | None:
    """The schema revision of an SQLite file, opened read-only (mode=ro never creates)."""
    if not path.is_file():
        raise NotMigrated(f"no database file at {path}: check DATABASE_URL")
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, timeout=30)
        ) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise NotMigrated(f"cannot read the database {path}: {error}") from None
    except sqlite3.DatabaseError as error:
        raise NotMigrated(
            f"{path} is not an SQLite database ({error}): check DATABASE_URL"
        ) from None
    return None if row is None else str(row[0])


async def current_revision(database_url: str) -> str | None:
    engine = create_engine(database_url)

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()

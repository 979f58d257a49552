"""Alembic environment: runs migrations on the async engine the bot itself uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


# Any number of instances may start (and migrate) at once on one PostgreSQL database:
# each upgrade runs in one transaction holding this advisory lock, so the second waits,
# then finds the schema current. (Without it, concurrent CREATE TABLEs failed with
# "duplicate key value violates unique constraint pg_type_typname_nsp_index".)
# The key is arbitrary but fixed; nothing else in the bot takes advisory locks.
MIGRATION_LOCK_KEY = 0x17A9E2E9


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # A transaction-level lock: released by the commit (or the rollback) below. Taken
        # before configure(), so Alembic runs inside this transaction and reads the
        # version table only once the lock is held.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async())

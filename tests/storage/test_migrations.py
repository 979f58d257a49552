"""Alembic migrations from empty up to head and back down, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.migrate import current_revision, downgrade, head_revision, upgrade
from storage.models import Base


def _tables(database_url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:

                def names(sync: Connection) -> set[str]:
                    return set(inspect(sync).get_table_names())

                return await connection.run_sync(names)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_creates_every_model_table_and_downgrade_removes_them(database_url: str) -> None:
    upgrade(database_url)
    assert asyncio.run(current_revision(database_url)) == head_revision()
    assert set(Base.metadata.tables) <= _tables(database_url)

    upgrade(database_url)  # running again at start-up is a no-op
    assert asyncio.run(current_revision(database_url)) == head_revision()

    downgrade(database_url, "base")
    assert asyncio.run(current_revision(database_url)) is None
    assert _tables(database_url) & set(Base.metadata.tables) == set()

    upgrade(database_url)
    assert set(Base.metadata.tables) <= _tables(database_url)


def test_models_and_migrations_agree(database_url: str) -> None:
    """A model change without a migration would fail here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(database_url)

    async def diff() -> list[object]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:

                def compare(sync: Connection) -> list[object]:
                    context = MigrationContext.configure(sync, opts={"compare_type": False})
                    return list(compare_metadata(context, Base.metadata))

                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []

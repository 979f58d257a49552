"""Fixtures shared by every test package: databases, migrated schemas, encryption keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import SecretBox
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.registry_server import skip_or_fail_without_registry

pytest_plugins = ["tests.support.registry_fixtures"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `registry` is skipped, or failed under REQUIRE_REGISTRY=1, before any
    of its fixtures start a server: the same rule the registry fixtures apply."""
    if item.get_closest_marker("registry") is not None:
        skip_or_fail_without_registry()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each supported kind (the test runs once per kind)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def sessions(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def fernet_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def box(fernet_key: str) -> SecretBox:
    return SecretBox([fernet_key])

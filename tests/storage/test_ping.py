"""/healthz's database check (`storage.db.ping`): every way a database can be unreachable
answers False (503 "database unreachable"), never an exception (a 500 with a traceback)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from storage.db import create_engine, ping
from tests.support.databases import ADMIN_DSN
from tests.support.registry_httpserver import free_port

BASE = ADMIN_DSN.rsplit("/", 1)[0]


async def answers(url: str) -> bool:
    before = set(threading.enumerate())
    engine = create_engine(url)
    try:
        return await ping(engine)
    finally:
        await engine.dispose()
        # aiosqlite's worker thread of a connection that failed to open still reports
        # its stop to this test's event loop: let it, before the loop closes.
        for thread in set(threading.enumerate()) - before:
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)


async def test_a_database_that_answers_is_healthy(migrated_url: str) -> None:
    assert await answers(migrated_url) is True


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://postgres@127.0.0.1:{free_port()}/test", id="refused-port"),
        pytest.param("postgresql://postgres@no-such-host.invalid:5432/test", id="unknown-host"),
    ],
)
async def test_an_unreachable_server_is_unhealthy(url: str) -> None:
    assert await answers(url) is False


@pytest.mark.postgres
@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"{BASE}/imagerepo_no_such_database", id="missing-database"),
        pytest.param(f"{BASE.replace('postgres@', 'nobody_here@')}/test", id="unknown-user"),
    ],
)
async def test_a_server_that_refuses_the_database_is_unhealthy(url: str) -> None:
    assert await answers(url) is False


async def test_a_sqlite_file_that_cannot_be_opened_is_unhealthy(tmp_path: Path) -> None:
    assert await answers(f"sqlite:///{tmp_path}/missing-dir/bot.db") is False

"""Two bot instances on one PostgreSQL database, both answering Slack at once: every change
lands in one audit chain that the console script verifies, and tampering is named."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage import audit
from storage.db import create_engine, session_factory
from tests.e2e.flow import bot_process
from tests.server.test_audit_cli import imagerepo_bot
from tests.support.bot_process import BotProcess
from tests.support.databases import fresh_postgres_database
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

CHANNELS_PER_BOT = 8


@pytest.fixture(scope="module")
def database_url_e2e() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def second_bot(
    standin: SlackApiStandIn,
    bot: BotProcess,
    database_url_e2e: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    """Another instance on the same database (started after the first migrated it)."""
    with bot_process(standin, database_url_e2e, tmp_path_factory) as process:
        yield process


async def _count(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return await audit.count(session)
    finally:
        await engine.dispose()


async def test_two_instances_answering_at_once_keep_one_valid_chain(
    standin: SlackApiStandIn, bot: BotProcess, second_bot: BotProcess, database_url_e2e: str
) -> None:
    clients = [
        SlackClient(
            instance.events_url,
            instance.signing_secret,
            standin=standin,
            user_id=f"UPG{b}",
            channel_id=f"CPG{b}{n:03d}",
        )
        for b, instance in enumerate((bot, second_bot))
        for n in range(CHANNELS_PER_BOT)
    ]
    try:
        creates = await asyncio.gather(
            *(c.command(f"project create pg-audit-{i}") for i, c in enumerate(clients))
        )
        assert all(r.status_code == 200 for r in creates)
        admins = await asyncio.gather(*(c.command("project admin add <@UPGX>") for c in clients))
        assert all(r.status_code == 200 for r in admins)
        expected = 2 * len(clients)

        async def all_written() -> bool:
            return await _count(database_url_e2e) >= expected

        await wait_until(all_written, "all written", timeout=30)
    finally:
        for client in clients:
            await client.aclose()
    assert await _count(database_url_e2e) == expected

    env = {"DATABASE_URL": database_url_e2e}
    verified = imagerepo_bot("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert f"intact: {expected} record(s)" in verified.stdout
    listing = imagerepo_bot("audit", "--project", "pg-audit-3", "--format", "csv", env=env)
    lines = listing.stdout.splitlines()
    assert len(lines) == 3 and "project-create" in lines[1] and "admin-add" in lines[2]
    everything = imagerepo_bot("audit", "--format", "jsonl", env=env).stdout
    assert '"user_id": "UPG0"' in everything and '"user_id": "UPG1"' in everything

    engine = create_engine(database_url_e2e)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_records SET outcome = 'refused' WHERE seq = 7")
            )
    finally:
        await engine.dispose()
    broken = imagerepo_bot("audit", "verify", env=env)
    assert broken.returncode == 1 and "broken at record #7" in broken.stderr

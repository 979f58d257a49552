"""Several real `imagerepo-bot serve` processes on one PostgreSQL database.

- Two instances, a short interval, a registry stopped and started: each change of
  state reaches the channel exactly once, and no connection is checked twice in
  one interval (read from the check history).
- One instance killed (SIGKILL) mid-batch: the other checks its connections as
  soon as the killed instance's leases expire, and not before.
- One instance stopped cleanly (SIGTERM): its claims are handed back at once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import SecretBox
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import ConnectionCheck, ImageRepository
from tests.bot.recheck import seed
from tests.bot.recheck.latency_proxy import LatencyProxy
from tests.support.bot_process import BotProcess
from tests.support.databases import fresh_postgres_database
from tests.support.registry_server import RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.registry]

USER, PASSWORD = "alice", "alice-pass-1"
INTERVAL = 2.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(pg_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def slack() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as standin:
        yield standin


@pytest.fixture
def bots(
    slack: SlackApiStandIn, pg_url: str, key: str, tmp_path: Path
) -> Iterator[Callable[..., BotProcess]]:
    """Start bot processes on the test's database; every one is stopped at the end."""
    started: list[BotProcess] = []

    def start(name: str, **env: str) -> BotProcess:
        process = BotProcess(
            slack_api_url=slack.base_url,
            bot_token=slack.bot_token,
            database_url=pg_url,
            log_path=tmp_path / name / "bot.log",
            secret_keys=key,
            extra_env=env,
        )
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


def kill_hard(process: BotProcess) -> None:
    """SIGKILL: no shutdown hook runs, so its leases stay until they expire."""
    child = process._process  # the helper has no public pid; this test needs a real crash
    assert child is not None
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=5)
    process.stop()


async def scheduled_checks(
    db: async_sessionmaker[AsyncSession],
) -> dict[int, list[ConnectionCheck]]:
    async with db() as session:
        rows = await session.scalars(
            select(ConnectionCheck)
            .where(ConnectionCheck.trigger == "scheduled")
            .order_by(ConnectionCheck.checked_at)
        )
        by_repo: dict[int, list[ConnectionCheck]] = defaultdict(list)
        for check in rows:
            by_repo[check.repository_id].append(check)
        return by_repo


def posted(slack: SlackApiStandIn, word: str) -> list[str]:
    """Texts of the channel messages delivered that contain `word`."""
    return [
        str(c.params.get("text", ""))
        for c in slack.calls_to("chat.postMessage")
        if c.ok and word in str(c.params.get("text", ""))
    ]


async def seed_repositories(
    db: async_sessionmaker[AsyncSession], key: str, registry_url: str, count: int
) -> list[int]:
    project_id = await seed.project(db, channel_id="C-OPS")
    return await seed.repositories(
        db,
        SecretBox([key]),
        project_id=project_id,
        registry_url=registry_url,
        count=count,
        repository="team/app-{i}",
        username=USER,
        secret=PASSWORD,
        pull_only=False,
    )


@pytest.mark.timeout(150)
async def test_two_instances_tell_each_change_once_and_check_each_connection_once_per_interval(
    registry_factory: Callable[..., RegistryServer],
    bots: Callable[..., BotProcess],
    slack: SlackApiStandIn,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    count = 12
    registry = registry_factory(htpasswd={USER: PASSWORD})
    pusher = registry.client(USER, PASSWORD)
    for i in range(count):
        pusher.push_image(f"team/app-{i}")
    ids = await seed_repositories(db, key, registry.url, count)
    env = {"IMAGEREPO_RECHECK_INTERVAL": str(INTERVAL), "IMAGEREPO_ALERT_AFTER": "2"}
    first, second = bots("first", **env), bots("second", **env)

    async def checked_at_least(n: int, ok: bool) -> bool:
        checks = await scheduled_checks(db)
        return all(len([c for c in checks.get(i, []) if c.ok is ok]) >= n for i in ids)

    await wait_until(lambda: checked_at_least(2, True), "two healthy checks of each", timeout=30)
    assert posted(slack, "failing") == [] and posted(slack, "recovered") == []

    registry.stop()
    await wait_until(
        lambda: asyncio.sleep(0, len(posted(slack, "is failing")) >= count), "alerts", timeout=30
    )
    await wait_until(lambda: checked_at_least(4, False), "still failing twice more", timeout=30)
    assert len(posted(slack, "is failing")) == count  # still failing: nothing more said

    registry.start()
    await wait_until(
        lambda: asyncio.sleep(0, len(posted(slack, "recovered after")) >= count),
        "recoveries",
        timeout=30,
    )
    healthy_before = {
        i: len([c for c in checks if c.ok]) for i, checks in (await scheduled_checks(db)).items()
    }
    await wait_until(
        lambda: _healthy_again(db, healthy_before, 2), "two more healthy checks of each", timeout=30
    )
    first.stop()
    second.stop()

    # Exactly one message per change of state and repository.
    failing, recovered = posted(slack, "is failing"), posted(slack, "recovered after")
    assert len(failing) == len(recovered) == count
    for i in range(count):
        assert sum(f"`team/app-{i}`" in text for text in failing) == 1
        assert sum(f"`team/app-{i}`" in text for text in recovered) == 1
    assert len(slack.calls_to("chat.postMessage")) == 2 * count
    # Each recovery is a reply in its own alert's thread; every edit hit an existing alert.
    alerts = {
        c.response["ts"]: c.params["text"]
        for c in slack.calls_to("chat.postMessage")
        if c.ok and "is failing" in c.params["text"]
    }
    for call in slack.calls_to("chat.postMessage"):
        if "recovered after" in str(call.params.get("text", "")):
            repo = str(call.params["text"]).split("`")[1]
            assert f"`{repo}`" in alerts[call.params["thread_ts"]]
    assert all(c.ok and c.params["ts"] in alerts for c in slack.calls_to("chat.update"))
    assert slack.violations == []

    # No connection checked twice in one interval, none skipped for long.
    checks = await scheduled_checks(db)
    for i in ids:
        times = [c.checked_at for c in checks[i]]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert min(gaps) >= INTERVAL, (i, gaps)
        assert max(gaps) <= 2 * INTERVAL + 2, (i, gaps)

    # Both instances did part of the work.
    for process in (first, second):
        assert "re-checked" in process.log(), process.log()[-2000:]
    async with db() as session:
        assert set(await session.scalars(select(ImageRepository.lease_owner))) == {None}


async def _healthy_again(
    db: async_sessionmaker[AsyncSession], before: dict[int, int], more: int
) -> bool:
    checks = await scheduled_checks(db)
    return all(len([c for c in checks[i] if c.ok]) >= n + more for i, n in before.items())


async def _leases(
    db: async_sessionmaker[AsyncSession],
) -> dict[int, tuple[str | None, datetime | None]]:
    async with db() as session:
        rows = await session.execute(
            select(
                ImageRepository.id, ImageRepository.lease_owner, ImageRepository.lease_expires_at
            )
        )
        return {i: (owner, expires) for i, owner, expires in rows.all()}


@pytest.mark.timeout(120)
async def test_a_killed_instance_connections_are_checked_by_another_when_its_lease_expires(
    registry_factory: Callable[..., RegistryServer],
    bots: Callable[..., BotProcess],
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    count, lease = 10, 6.0
    registry = registry_factory(htpasswd={USER: PASSWORD})
    pusher = registry.client(USER, PASSWORD)
    for i in range(count):
        pusher.push_image(f"team/app-{i}")
    # 0.4 s per round trip: a test takes seconds, so the first instance is killed
    # with every connection claimed and none recorded.
    with LatencyProxy(registry.port, 0.4) as proxy:
        ids = await seed_repositories(db, key, proxy.url, count)
        env = {"IMAGEREPO_RECHECK_INTERVAL": "3600", "IMAGEREPO_RECHECK_LEASE": str(lease)}
        doomed = bots("doomed", **env)

        async def all_claimed() -> bool:
            return all(owner is not None for owner, _ in (await _leases(db)).values())

        await wait_until(all_claimed, "the first instance claims every connection", timeout=20)
        leases = await _leases(db)
        kill_hard(doomed)
        killed_at = datetime.now().astimezone()
        expiry = max(expires for _, expires in leases.values() if expires is not None)
        assert len({owner for owner, _ in leases.values()}) == 1
        assert await scheduled_checks(db) == {}  # killed mid-batch: nothing recorded

        bots("survivor", **env)

        async def all_checked() -> bool:
            checks = await scheduled_checks(db)
            return all(len(checks.get(i, [])) >= 1 for i in ids)

        await wait_until(all_checked, "the survivor checks them", timeout=lease + 30)

    checks = await scheduled_checks(db)
    assert all(len(checks[i]) == 1 for i in ids)  # each once: the dead one recorded nothing
    for i in ids:
        [check] = checks[i]
        started = check.checked_at - timedelta(milliseconds=check.latency_ms)
        # Not before the lease expired (it was respected)...
        assert started >= expiry - timedelta(seconds=0.05), (started, expiry)
        # ...and soon after: within a tick and a test of the expiry.
        assert check.checked_at <= expiry + timedelta(seconds=15), (check.checked_at, expiry)
        assert check.ok, check.message
    assert killed_at < expiry


@pytest.mark.timeout(120)
async def test_a_cleanly_stopped_instance_hands_its_claims_back_at_once(
    registry_factory: Callable[..., RegistryServer],
    bots: Callable[..., BotProcess],
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    count = 6
    registry = registry_factory(htpasswd={USER: PASSWORD})
    pusher = registry.client(USER, PASSWORD)
    for i in range(count):
        pusher.push_image(f"team/app-{i}")
    with LatencyProxy(registry.port, 0.5) as proxy:
        ids = await seed_repositories(db, key, proxy.url, count)
        env = {"IMAGEREPO_RECHECK_INTERVAL": "3600"}  # default lease: 90 s
        leaving = bots("leaving", **env)

        async def all_claimed() -> bool:
            return all(owner is not None for owner, _ in (await _leases(db)).values())

        await wait_until(all_claimed, "the first instance claims every connection", timeout=20)
        leaving.stop()  # SIGTERM: the shutdown hook releases the leases
        assert {owner for owner, _ in (await _leases(db)).values()} == {None}
        assert "released" in leaving.log()

        stopped = time.monotonic()
        bots("staying", **env)

        async def all_checked() -> bool:
            checks = await scheduled_checks(db)
            return all(len(checks.get(i, [])) >= 1 for i in ids)

        await wait_until(all_checked, "the other instance checks them", timeout=30)
        assert time.monotonic() - stopped < 30  # far less than the 90 s lease

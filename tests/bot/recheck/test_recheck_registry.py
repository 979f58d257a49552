"""Scheduled re-checks against a real registry (Debian's docker-registry) that is stopped
and started again, with the real registry client, on SQLite and PostgreSQL.

Failing: one channel message; still failing: none; recovered: one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.recheck import RecheckConfig, Rechecker
from bot.runtime import Runtime
from handlers.delivery import SlackPoster
from server import scheduling
from server.app import create_slack_client
from storage.db import transaction
from storage.models import ConnectionCheck, ImageRepository, utcnow
from tests.bot.recheck import seed
from tests.support.registry_server import RegistryServer
from tests.support.slack_api import SlackApiStandIn

pytestmark = pytest.mark.registry

USER, PASSWORD = "alice", "alice-pass-1"


@pytest.fixture
def slack() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as standin:
        yield standin


@pytest.fixture
def real_runtime(real_runtime: Runtime, slack: SlackApiStandIn) -> Runtime:
    """The package's runtime with the real registry client (conftest.py), and here the
    real Slack client too."""
    return replace(
        real_runtime, poster=SlackPoster(create_slack_client(slack.bot_token, slack.base_url))
    )


async def test_a_registry_that_goes_down_and_comes_back_is_announced_once_each_way(
    real_runtime: Runtime,
    slack: SlackApiStandIn,
    registry_factory: Callable[..., RegistryServer],
) -> None:
    rt = real_runtime
    server = registry_factory(htpasswd={USER: PASSWORD})
    server.client(USER, PASSWORD).push_image("team/api")
    project_id = await seed.project(rt.sessions, channel_id="C-PAYMENTS")
    [repo_id] = await seed.repositories(
        rt.sessions,
        rt.box,
        project_id=project_id,
        registry_url=server.url,
        count=1,
        repository="team/api",
        username=USER,
        secret=PASSWORD,
        pull_only=False,
    )
    rechecker = Rechecker(rt, RecheckConfig.from_settings(rt.settings, env={}), owner="it")

    async def one_pass() -> list[dict[str, Any]]:
        """Make the row due, run a pass, send what it queued; the messages posted."""
        async with transaction(rt.sessions) as session:
            await session.execute(update(ImageRepository).values(next_check_at=utcnow()))
        before = len(slack.calls_to("chat.postMessage"))
        stats = await rechecker.run_due()
        assert stats.recorded == 1, stats
        await scheduling.deliver_due(rt, owner="it")
        return [c.params for c in slack.calls_to("chat.postMessage")[before:]]

    assert await one_pass() == []  # healthy: nothing to say
    server.stop()
    assert await one_pass() == []  # first failure: could be a blip (alert after 2)
    [failing] = await one_pass()
    assert failing["channel"] == "C-PAYMENTS"
    assert "`team/api`" in failing["text"] and "failing (connection refused)" in failing["text"]
    assert "since <!date^" in failing["text"]
    actions = [b for b in failing["blocks"] if b["type"] == "actions"]
    assert actions[0]["elements"][0]["value"] == str(repo_id)
    assert await one_pass() == []  # still failing
    assert await one_pass() == []
    server.start()
    [recovered] = await one_pass()
    assert recovered["channel"] == "C-PAYMENTS"
    assert "recovered after" in recovered["text"] and "`team/api`" in recovered["text"]
    assert await one_pass() == []  # still healthy

    async with rt.sessions() as session:
        history = list(await session.scalars(select(ConnectionCheck).order_by(ConnectionCheck.id)))
        row = await session.get(ImageRepository, repo_id)
    assert [c.ok for c in history] == [True, False, False, False, False, True, True]
    assert {c.error_kind for c in history if not c.ok} == {"connection_refused"}
    assert row is not None and row.health == "healthy" and not row.alerted
    assert slack.violations == []

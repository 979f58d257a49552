"""server.scheduling in-process: APScheduler ticks, the outbox sender, a Slack that fails.

The Slack Web API is the stand-in (tests/support/slack_api.py), reached through
the same client the server builds (server.app.create_slack_client), so the
`ratelimited` and error answers are handled the way they are in production.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from handlers.delivery import SlackPoster
from server import scheduling
from server.app import create_slack_client
from storage.models import ImageRepository, OutboxMessage
from tests.bot.recheck import seed
from tests.bot.recheck.conftest import ScriptedRegistry
from tests.support.slack_api import SlackApiStandIn
from tests.support.waiting import wait_until

UP = "https://up.example.com"
DOWN = "https://down.example.com"


@pytest.fixture
def slack() -> SlackApiStandIn:
    with SlackApiStandIn() as standin:
        yield standin


async def _scheduled_checks(runtime: Runtime) -> dict[int, int]:
    from sqlalchemy import func

    from storage.models import ConnectionCheck

    async with runtime.sessions() as session:
        rows = await session.execute(
            select(ConnectionCheck.repository_id, func.count()).group_by(
                ConnectionCheck.repository_id
            )
        )
        return dict(rows.all())


@pytest.mark.timeout(60)
async def test_the_server_jobs_recheck_and_tell_the_channel_once_per_change(
    runtime: Runtime,
    scripted: ScriptedRegistry,
    slack: SlackApiStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduling, "registry_shards", lambda *_: [scripted])
    runtime.settings = replace(runtime.settings, recheck_interval=0.5)
    runtime.poster = SlackPoster(create_slack_client(slack.bot_token, slack.base_url))
    project_id = await seed.project(runtime.sessions, channel_id="C-OPS")
    up_ids = await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=UP, count=3
    )
    [down_id] = await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=DOWN,
        count=1,
        repository="team/broken",
    )
    scripted.down = {DOWN}
    slack.rate_limit_next("chat.postMessage", retry_after=1)  # waited out by the client

    await scheduling.start(runtime)
    try:
        background = scheduling.running(runtime)
        assert background is not None and background.scheduler.running
        failing = (await slack.wait_for_async("chat.postMessage", 2, timeout=15))[-1]
        assert failing.ok and failing.params["channel"] == "C-OPS"
        assert "team/broken" in failing.params["text"] and "failing" in failing.params["text"]
        buttons = [
            element
            for block in failing.params["blocks"]
            for element in block.get("elements", [])
            if element.get("type") == "button"
        ]
        assert [b["text"]["text"] for b in buttons] == ["Connection Test", "Change account"]
        assert buttons[0]["value"] == str(down_id)

        # Still failing for several more passes: nothing more is posted (the alert is edited).
        counts = await _scheduled_checks(runtime)
        await wait_until(
            lambda: _more_checks(runtime, counts, down_id, 3), "three more checks", timeout=10
        )
        assert len(slack.calls_to("chat.postMessage")) == 2  # the 429 and the message

        slack.fail_next("chat.postMessage", "internal_error")  # the recovery is retried later
        scripted.down = set()
        await slack.wait_for_async("chat.postMessage", 4, timeout=25)
        posts = slack.calls_to("chat.postMessage")
        assert [c.error for c in posts] == ["ratelimited", None, "internal_error", None]
        assert "recovered" in posts[-1].params["text"]
        assert posts[-1].params["thread_ts"] == failing.response["ts"]  # in the alert's thread
        checks = await _scheduled_checks(runtime)
        assert all(checks[i] >= 3 for i in up_ids)
    finally:
        await scheduling.stop(runtime)
    assert scheduling.running(runtime) is None
    async with runtime.sessions() as session:
        assert set(await session.scalars(select(ImageRepository.lease_owner))) == {None}
        outbox = list(await session.scalars(select(OutboxMessage)))
    assert outbox and all(m.sent_at is not None for m in outbox)
    assert slack.violations == []


async def _more_checks(runtime: Runtime, before: dict[int, int], repo_id: int, more: int) -> bool:
    return (await _scheduled_checks(runtime)).get(repo_id, 0) >= before.get(repo_id, 0) + more

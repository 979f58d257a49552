"""Alerts end to end: the real `imagerepo-bot serve` (server, scheduler, outbox sender) with
a short re-check interval, a real docker-registry stopped and started, and the Slack Web
API stand-in, which refuses a thread reply to a message that does not exist and a post
into a private channel the bot is not in, as Slack does.

Nothing-more-arrives is proven from the outbox (nothing unsent once the bot has checked
again), not by sleeping.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import outbox
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox
from storage.db import create_engine, session_factory, transaction
from storage.migrate import upgrade
from storage.models import AuditRecord, ConnectionCheck, ImageRepository
from tests.bot.recheck import seed
from tests.support.bot_process import BotProcess
from tests.support.databases import sqlite_url
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_server import RegistryServer
from tests.support.slack_api import RecordedCall, SlackApiStandIn
from tests.support.slack_requests import (
    SlackClient,
    button_action,
    member_joined_channel,
    static_select_action,
)
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.registry]

USER, PASSWORD = "alice", "alice-pass-1"
ADMIN_PASSWORD = "Harbor12345"  # the Harbor stand-in's admin
JsonDict = dict[str, Any]


@pytest.fixture
def slack() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as standin:
        yield standin


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path)
    upgrade(url)
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def bot(slack: SlackApiStandIn, db_url: str, key: str, tmp_path: Path) -> Iterator[BotProcess]:
    process = BotProcess(
        slack_api_url=slack.base_url,
        bot_token=slack.bot_token,
        database_url=db_url,
        log_path=tmp_path / "bot" / "bot.log",
        secret_keys=key,
        extra_env={"IMAGEREPO_RECHECK_INTERVAL": "1", "IMAGEREPO_ALERT_AFTER": "2"},
    )
    with process:
        yield process
    assert slack.violations == []
    assert PASSWORD not in process.log()


@pytest.fixture
async def user(bot: BotProcess, slack: SlackApiStandIn) -> AsyncIterator[SlackClient]:
    client = SlackClient(
        bot.events_url, bot.signing_secret, standin=slack, user_id="U1", channel_id="CALERTS"
    )
    try:
        yield client
    finally:
        await client.aclose()


def posts(slack: SlackApiStandIn, channel: str) -> list[RecordedCall]:
    return [
        c for c in slack.calls_to("chat.postMessage") if c.ok and c.params.get("channel") == channel
    ]


def top_level(slack: SlackApiStandIn, channel: str) -> list[RecordedCall]:
    return [c for c in posts(slack, channel) if not c.params.get("thread_ts")]


def message(slack: SlackApiStandIn, ts: str) -> JsonDict:
    return next(m for m in slack.messages if m["ts"] == ts)


async def unsent(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return await outbox.pending_count(session)


async def checks(db: async_sessionmaker[AsyncSession], repo_id: int, ok: bool) -> int:
    async with db() as session:
        value = await session.scalar(
            select(func.count(ConnectionCheck.id)).where(
                ConnectionCheck.repository_id == repo_id, ConnectionCheck.ok.is_(ok)
            )
        )
        return int(value or 0)


async def command_reply(user: SlackClient, slack: SlackApiStandIn, text: str, **kw: Any) -> str:
    before = len(slack.calls_to("response_url"))
    response = await user.command(text, **kw)
    assert response.status_code == 200
    [call] = (await slack.wait_for_async("response_url", before + 1, 15))[before:]
    return str(call.params.get("text", "")) + "\n" + str(call.params.get("blocks") or "")


async def saved_repository(
    db: async_sessionmaker[AsyncSession], key: str, channel: str, registry_url: str
) -> int:
    async with db() as session:
        from storage import projects

        project = await projects.get_by_channel(session, "T1", channel)
        assert project is not None
        project_id = project.id
    [repo_id] = await seed.repositories(
        db,
        SecretBox([key]),
        project_id=project_id,
        registry_url=registry_url,
        count=1,
        repository="team/app",
        username=USER,
        secret=PASSWORD,
    )
    return repo_id


def alert_element(alert: JsonDict, action_id: str) -> tuple[str, JsonDict]:
    for block in alert["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return str(block["block_id"]), dict(element)
    raise AssertionError(f"no {action_id} on the alert")


@pytest.mark.timeout(180)
async def test_one_message_per_incident_edited_recovered_in_its_thread_and_snoozed(
    registry_factory: Callable[..., RegistryServer],
    slack: SlackApiStandIn,
    user: SlackClient,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    channel = "CALERTS"
    reply = await command_reply(user, slack, "project create alerts")
    assert "is its admin" in reply and "/invite" not in reply
    registry = registry_factory(htpasswd={USER: PASSWORD})
    registry.client(USER, PASSWORD).push_image("team/app")
    repo_id = await saved_repository(db, key, channel, registry.url)
    await wait_until(lambda: _at_least(checks(db, repo_id, True), 1), "a healthy check")

    # The registry goes down: one alert, then edits of that alert while it stays down.
    registry.stop()
    await wait_until(lambda: _now(len(top_level(slack, channel)) == 1), "the alert")
    alert_call = top_level(slack, channel)[0]
    ts = str(alert_call.response["ts"])
    assert "is failing" in alert_call.params["text"]
    await wait_until(
        lambda: _now(any(c.params.get("ts") == ts for c in slack.calls_to("chat.update"))),
        "an edit of the alert while failing",
    )
    assert "failed checks in a row" in str(message(slack, ts)["blocks"])

    # Snooze 1 hour from the alert: the alert says who snoozed; the list shows it too.
    block_id, select_menu = alert_element(message(slack, ts), "alert_snooze")
    one_hour = next(o for o in select_menu["options"] if o["text"]["text"] == "1 hour")
    await user.action(
        [static_select_action("alert_snooze", block_id, one_hour["value"], text="1 hour")],
        message=message(slack, ts),
        channel_id=channel,
    )
    await wait_until(
        lambda: _now("Snoozed by <@U1> until" in str(message(slack, ts)["blocks"])),
        "the alert showing the snooze",
    )
    listing = await command_reply(user, slack, "list")
    assert "snoozed by <@U1> until" in listing
    async with db() as session:  # the audit trail says who snoozed what, once
        snoozes = (
            await session.execute(
                select(
                    AuditRecord.user_id, AuditRecord.target_repository, AuditRecord.detail
                ).where(AuditRecord.action == "snooze")
            )
        ).all()
    assert [tuple(r) for r in snoozes] == [("U1", "team/app", "1 hour")]

    # Connection Test from the alert: the result lands in the alert's thread.
    block_id, button = alert_element(message(slack, ts), "alert_test_in_thread")
    await user.action(
        [button_action("alert_test_in_thread", block_id, value=button["value"])],
        message=message(slack, ts),
        channel_id=channel,
    )
    await wait_until(
        lambda: _now(
            any("ran a connection test" in c.params["text"] for c in posts(slack, channel))
        ),
        "the test result in the thread",
    )
    tested = next(c for c in posts(slack, channel) if "ran a connection test" in c.params["text"])
    assert tested.params["thread_ts"] == ts

    # Change account from the alert: the list's private modal, with the list's permissions.
    block_id, button = alert_element(message(slack, ts), "alert_change_account")
    opened_before = len(slack.calls_to("views.open"))
    await user.action(
        [button_action("alert_change_account", block_id, value=button["value"])],
        message=message(slack, ts),
        channel_id=channel,
    )
    [opened] = (await slack.wait_for_async("views.open", opened_before + 1, 15))[opened_before:]
    assert opened.ok and "team/app" in str(opened.params["view"])
    answers_before = len(slack.calls_to("response_url"))
    await user.action(
        [button_action("alert_change_account", block_id, value=button["value"])],
        message=message(slack, ts),
        channel_id=channel,
        user_id="U2",  # neither a project admin nor the one who added it
    )
    [refused] = (await slack.wait_for_async("response_url", answers_before + 1, 15))[
        answers_before:
    ]
    assert "Only this project's admins" in str(refused.params.get("text"))
    assert len(slack.calls_to("views.open")) == opened_before + 1

    # Back up: the recovery is a reply in the thread and the alert says it recovered.
    registry.start()
    await wait_until(
        lambda: _now(any("recovered after" in c.params["text"] for c in posts(slack, channel))),
        "the recovery",
    )
    recovered = next(c for c in posts(slack, channel) if "recovered after" in c.params["text"])
    assert recovered.params["thread_ts"] == ts
    await wait_until(
        lambda: _now("down for" in message(slack, ts)["text"]), "the alert edited to recovered"
    )

    # Down again within the snooze hour: checked (and failing) but no new alert.
    failed_before = await checks(db, repo_id, False)
    registry.stop()
    await wait_until(
        lambda: _at_least(checks(db, repo_id, False), failed_before + 3), "three failing checks"
    )
    await wait_until(lambda: _now_async(unsent(db), 0), "the outbox drained")
    assert len(top_level(slack, channel)) == 1
    async with db() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.health == "failing" and not row.alerted
    listing = await command_reply(user, slack, "list")
    assert "failing" in listing.lower() and "snoozed by <@U1>" in listing


@pytest.mark.timeout(120)
async def test_a_private_channel_without_the_bot_is_reported_and_alerts_wait_for_it(
    registry_factory: Callable[..., RegistryServer],
    slack: SlackApiStandIn,
    user: SlackClient,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    channel = "GPRIVATE"
    slack.set_channel(channel, is_private=True, is_member=False)
    reply = await command_reply(user, slack, "project create secret-ops", channel_id=channel)
    assert "is its admin" in reply and "/invite @imagerepo" in reply
    listing = await command_reply(user, slack, "list", channel_id=channel)
    assert "Channel alerts cannot be delivered: invite @imagerepo" in listing
    published = len(slack.calls_to("views.publish"))
    await user.home_opened()
    [home] = (await slack.wait_for_async("views.publish", published + 1, 15))[published:]
    assert "Channel alerts cannot be delivered: invite @imagerepo" in str(home.params["view"])

    registry = registry_factory(htpasswd={USER: PASSWORD})
    repo_id = await saved_repository(db, key, channel, registry.url)
    registry.stop()
    await wait_until(lambda: _at_least(checks(db, repo_id, False), 3), "failing checks")
    await wait_until(lambda: _now_async(unsent(db), 1), "the alert kept")
    assert posts(slack, channel) == []  # held: Slack is not asked again and again
    assert [
        c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == channel
    ] == []

    # The bot is invited: the kept alert is delivered, marked late.
    slack.set_channel(channel, is_private=True, is_member=True)
    response = await user.post(member_joined_channel("UBOT", channel))
    assert response.status_code == 200
    await wait_until(lambda: _now(len(posts(slack, channel)) == 1), "the late alert")
    [late] = posts(slack, channel)
    assert "Delivered late" in late.params["text"] and "is failing" in late.params["text"]
    listing = await command_reply(user, slack, "list", channel_id=channel)
    assert "cannot be delivered" not in listing
    await wait_until(lambda: _now_async(unsent(db), 0), "nothing left unsent")


async def _now(value: bool) -> bool:
    return value


async def _now_async(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def _at_least(count: Awaitable[int], expected: int) -> bool:
    return await count >= expected


async def saved_harbor_repository(
    db: async_sessionmaker[AsyncSession],
    key: str,
    harbor: HarborStandIn,
    channel: str,
    robot: str,
    secret: str,
    repository: str = "apps/web",
) -> int:
    """A Harbor repository of a registered tool (its admin account reads the robots), saved
    with a robot account, as the add modal saves one."""
    from storage import grants, projects, tools

    box = SecretBox([key])
    async with transaction(db) as session:
        project = await projects.get_by_channel(session, "T1", channel)
        assert project is not None
        tool = await tools.add(
            session,
            box,
            team_id="T1",
            name=f"harbor-{robot.removeprefix('robot$')}",
            url=harbor.url,
            account=EnteredAccount("admin", ADMIN_PASSWORD),
            created_by="U1",
        )
        await session.flush()
        # The tool's admin account reads the robots only where it is granted (issue 18).
        await grants.add(
            session,
            tool_id=tool.id,
            project_id=project.id,
            namespace=repository.split("/")[0],
            granted_by="UWSADMIN",
        )
        row = ImageRepository(
            project_id=project.id,
            access="pull_only",
            registry_type="harbor",
            registry_url=harbor.url,
            repository=repository,
            tool_id=tool.id,
            username=robot,
            secret_ciphertext=box.encrypt(secret),
            added_by="U1",
        )
        session.add(row)
        await session.flush()
        return int(row.id)


@pytest.mark.timeout(120)
async def test_expiry_from_a_harbor_robot_is_shown_and_warned_once_at_each_threshold(
    harbor: HarborStandIn,
    slack: SlackApiStandIn,
    user: SlackClient,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    channel = "CALERTS"
    await command_reply(user, slack, "project create expiring")
    # Crosses "1 day before" a few seconds after the first check (already within 7 days).
    soon = int(time.time() + 86400 + 6)
    harbor.add_user(
        "robot$soon", "robot-soon-1", robot_projects={"apps": {"pull"}}, expires_at=soon
    )
    soon_id = await saved_harbor_repository(db, key, harbor, channel, "robot$soon", "robot-soon-1")

    def warnings() -> list[RecordedCall]:
        return [c for c in posts(slack, channel) if "robot$soon" in c.params["text"]]

    await wait_until(lambda: _now(len(warnings()) >= 1), "the 7-day warning")
    first = warnings()[0]
    assert "expires in 2 days" in first.params["text"] and not first.params.get("thread_ts")
    listing = await command_reply(user, slack, "list")
    assert "credential expires in 2 days" in listing or "credential expires in 1 day" in listing
    await wait_until(lambda: _now(len(warnings()) >= 2), "the 1-day warning", timeout=30)
    second = warnings()[1]
    assert second.params["thread_ts"] == first.response["ts"]
    assert "expires in 1 day" in second.params["text"]

    # Checked again and again: nothing more is said (the outbox holds nothing unsent).
    async with db() as session:
        row = await session.get(ImageRepository, soon_id)
        assert row is not None and row.credential_expires_at is not None
        assert int(row.credential_expires_at.timestamp()) == soon
    ok_before = await checks(db, soon_id, True)
    await wait_until(lambda: _at_least(checks(db, soon_id, True), ok_before + 3), "more checks")
    await wait_until(lambda: _now_async(unsent(db), 0), "the outbox drained")
    assert len(warnings()) == 2
    assert len(top_level(slack, channel)) == 1

    # An expired robot: Harbor refuses it, and that is an incident like any other.
    harbor.add_user(
        "robot$gone",
        "robot-gone-1",
        robot_projects={"apps": {"pull"}},
        expires_at=int(time.time() + 3),
    )
    await saved_harbor_repository(
        db, key, harbor, channel, "robot$gone", "robot-gone-1", "apps/tools/builder"
    )
    await wait_until(
        lambda: _now(
            any(
                "is failing" in c.params["text"] and "apps/tools/builder" in c.params["text"]
                for c in top_level(slack, channel)
            )
        ),
        "the expired robot's alert",
    )


# Issue 19: accepted before the host-name rule; escaped, its URL alone is over 6,000
# characters, and the alert used to be refused by slack_sdk before it reached the outbox.
HOSTILE_URL = "https://" + "&" * 1200 + ".example"


@pytest.mark.timeout(120)
async def test_an_entry_with_a_hostile_url_gets_its_alert_in_the_channel(
    slack: SlackApiStandIn,
    user: SlackClient,
    db: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    channel = "CALERTS"
    reply = await command_reply(user, slack, "project create hostile")
    assert "is its admin" in reply
    repo_id = await saved_repository(db, key, channel, HOSTILE_URL)
    await wait_until(lambda: _now(len(top_level(slack, channel)) == 1), "the alert", timeout=60)
    alert = top_level(slack, channel)[0]
    assert alert.ok and "is failing" in alert.params["text"]
    first = alert.params["blocks"][0]["text"]["text"]
    assert len(first) <= 3000 and "&amp;&amp;" in first
    assert re.search(r"&(?!amp;|lt;|gt;)", first) is None, "an entity was cut"
    async with db() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.alerted and row.health == "failing"
    # every message of the incident passed the stand-in's rules (the `bot` fixture asserts
    # no violation); the list shows the entry too
    listing = await command_reply(user, slack, "list")
    assert "failing" in listing.lower()

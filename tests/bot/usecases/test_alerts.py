"""Alerts at the use-case level, on SQLite and PostgreSQL, with the Slack Web API stand-in:
one top-level message per incident (edited while it lasts, the recovery in its thread),
snoozes, messages held for a channel the bot cannot post in, token failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics, outbox
from bot.notices import EntryFacts, RepositoryAdded
from bot.runtime import Runtime
from bot.usecases import alerts, health
from bot.usecases.actor import Actor
from bot.usecases.errors import NotFound
from bot.usecases.permissions import Place
from handlers.delivery import SlackPoster
from registry import ConnectionTestResult, ErrorKind
from registry.results import CheckStep
from storage.crypto import SecretBox
from storage.db import transaction
from storage.enums import CheckTrigger
from storage.models import ImageRepository, OutboxMessage, Project, utcnow
from tests.bot.recheck import seed
from tests.bot.recheck.conftest import settings_for
from tests.support.slack_api import SlackApiStandIn

CHANNEL = "C-ALERTS"
HERE = Place.channel(CHANNEL)
ALERT_AFTER = 2


def failed(message: str) -> ConnectionTestResult:
    return ConnectionTestResult(
        steps=(CheckStep("reachable", False, message),),
        error_kind=ErrorKind.CONNECTION_REFUSED,
        message=message,
        latency_ms=1.0,
        round_trips=1,
    )


OK = ConnectionTestResult(
    steps=(CheckStep("reachable", True, "ok"),),
    error_kind=None,
    message="Pull access works.",
    latency_ms=1.0,
    round_trips=1,
)


@pytest.fixture
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


@pytest.fixture
async def rt(
    sessions: async_sessionmaker[AsyncSession], migrated_url: str, fernet_key: str, box: SecretBox
) -> AsyncIterator[Runtime]:
    yield Runtime(
        settings=settings_for(migrated_url, fernet_key, alert_after=ALERT_AFTER),
        engine=None,  # type: ignore[arg-type]  # only the session factory is used
        sessions=sessions,
        box=box,
        registry=None,  # type: ignore[arg-type]  # results are applied directly
    )


@pytest.fixture
def client(standin: SlackApiStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.base_url)


async def _repo(rt: Runtime, channel_id: str = CHANNEL) -> int:
    project_id = await seed.project(rt.sessions, channel_id=channel_id, name=channel_id.lower())
    [repo_id] = await seed.repositories(
        rt.sessions, None, project_id=project_id, registry_url="https://r.test", count=1
    )
    return repo_id


async def _apply(rt: Runtime, repo_id: int, result: ConnectionTestResult, now: datetime) -> None:
    async with transaction(rt.sessions) as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None
        await health.apply_result(
            session, row, result, trigger=CheckTrigger.SCHEDULED, alert_after=ALERT_AFTER, now=now
        )


async def _deliver_all(rt: Runtime, client: AsyncWebClient) -> None:
    while await outbox.deliver_pending(rt.sessions, SlackPoster(client), owner="test"):
        pass


async def _unsent(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return await outbox.pending_count(session)


async def test_an_incident_is_one_message_edited_then_recovered_in_its_thread(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_id = await _repo(rt)
    start = utcnow()
    await _apply(rt, repo_id, failed("connection refused"), start)
    await _apply(rt, repo_id, failed("connection refused"), start + timedelta(minutes=1))
    await _deliver_all(rt, client)
    [alert] = standin.calls_to("chat.postMessage")
    assert "is failing" in alert.params["text"] and "thread_ts" not in alert.params
    assert [b["text"] for b in alert.params["blocks"][-1]["elements"][:2]] == [
        {"type": "plain_text", "text": "Connection Test", "emoji": True},
        {"type": "plain_text", "text": "Change account", "emoji": True},
    ]
    # Still failing, another error: the alert is edited, nothing new is posted.
    await _apply(rt, repo_id, failed("TLS handshake failed"), start + timedelta(minutes=2))
    await _deliver_all(rt, client)
    [edit] = standin.calls_to("chat.update")
    assert edit.params["ts"] == alert.response["ts"]
    assert "TLS handshake failed" in str(edit.params["blocks"])
    assert "3 failed checks in a row" in str(edit.params["blocks"])
    # The recovery: a reply in the alert's thread, and the alert edited to say so.
    await _apply(rt, repo_id, OK, start + timedelta(minutes=3))
    await _deliver_all(rt, client)
    posts = standin.calls_to("chat.postMessage")
    assert len(posts) == 2
    assert posts[1].params["thread_ts"] == alert.response["ts"]
    assert "recovered after 3 min" in posts[1].params["text"]
    last_edit = standin.calls_to("chat.update")[-1]
    assert "down for 3 min" in last_edit.params["text"]
    assert "actions" not in str(last_edit.params["blocks"])  # no buttons on a closed incident
    assert await _unsent(rt) == 0

    # A new incident after the recovery is a new top-level message.
    later = start + timedelta(hours=1)
    await _apply(rt, repo_id, failed("connection refused"), later)
    await _apply(rt, repo_id, failed("connection refused"), later + timedelta(minutes=1))
    await _deliver_all(rt, client)
    top_level = [m for m in standin.messages if "thread_ts" not in m]
    assert len(top_level) == 2
    assert await _unsent(rt) == 0
    assert standin.violations == []


async def test_an_edit_and_a_reply_wait_for_the_post(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_id = await _repo(rt)
    start = utcnow()
    await _apply(rt, repo_id, failed("connection refused"), start)
    await _apply(rt, repo_id, failed("connection refused"), start + timedelta(minutes=1))
    await _apply(rt, repo_id, failed("TLS handshake failed"), start + timedelta(minutes=2))
    await _apply(rt, repo_id, OK, start + timedelta(minutes=3))
    # All queued before anything was sent: the first round sends only the post (already
    # rewritten to the latest state, so no edit is needed); the reply waits for its ts.
    assert await outbox.deliver_pending(rt.sessions, SlackPoster(client), owner="test") == 1
    [alert] = standin.calls_to("chat.postMessage")
    assert "recovered" in alert.params["text"] and "thread_ts" not in alert.params
    await _deliver_all(rt, client)
    reply = standin.calls_to("chat.postMessage")[1]
    assert reply.ok and reply.params["thread_ts"] == alert.response["ts"]
    assert standin.calls_to("chat.update") == []
    assert await _unsent(rt) == 0


async def test_two_senders_send_the_post_its_edit_and_its_reply_once(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_ids = [await _repo(rt, f"C-RACE{n}") for n in range(5)]
    now = utcnow()
    for repo_id in repo_ids:
        await _apply(rt, repo_id, failed("refused"), now)
        await _apply(rt, repo_id, failed("refused"), now + timedelta(seconds=1))
    await asyncio.gather(_deliver_all(rt, client), _deliver_all(rt, client))
    for repo_id in repo_ids:
        await _apply(rt, repo_id, failed("still refused"), now + timedelta(seconds=2))
        await _apply(rt, repo_id, OK, now + timedelta(seconds=3))

    async def sender(owner: str) -> None:
        while await outbox.deliver_pending(rt.sessions, SlackPoster(client), owner=owner, limit=3):
            pass

    await asyncio.gather(sender("a"), sender("b"), sender("c"))
    assert await _unsent(rt) == 0
    posts = [c for c in standin.calls_to("chat.postMessage") if c.ok]
    assert len([p for p in posts if "thread_ts" not in p.params]) == 5
    assert len([p for p in posts if "thread_ts" in p.params]) == 5
    assert all(c.ok for c in standin.calls_to("chat.update"))
    assert standin.violations == []


async def test_a_snooze_holds_new_alerts_and_the_alert_says_who_snoozed(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_id = await _repo(rt)
    now = utcnow()
    await _apply(rt, repo_id, failed("refused"), now)
    await _apply(rt, repo_id, failed("refused"), now)
    await _deliver_all(rt, client)
    snoozed = await alerts.snooze(
        rt, Actor(team_id="T1", user_id="U7"), HERE, repo_id, "1h", now=now
    )
    assert snoozed.until == now + timedelta(hours=1)
    await _deliver_all(rt, client)
    [edit] = standin.calls_to("chat.update")
    assert "Snoozed by <@U7> until" in str(edit.params["blocks"])

    # Recovers, fails again within the hour: checked and recorded, but no new alert.
    await _apply(rt, repo_id, OK, now + timedelta(minutes=5))
    for minutes in (6, 7, 8):
        await _apply(rt, repo_id, failed("refused"), now + timedelta(minutes=minutes))
    await _deliver_all(rt, client)
    top_level = [m for m in standin.messages if "thread_ts" not in m]
    assert len(top_level) == 1
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.health == "failing" and row.consecutive_failures == 3

    # The snooze ended: the next failing check posts a new alert.
    await _apply(rt, repo_id, failed("refused"), now + timedelta(hours=1, minutes=1))
    await _deliver_all(rt, client)
    assert len([m for m in standin.messages if "thread_ts" not in m]) == 2

    # "Until it recovers" ends with the recovery.
    await alerts.snooze(rt, Actor(team_id="T1", user_id="U8"), HERE, repo_id, "recovered")
    await _apply(rt, repo_id, OK, now + timedelta(hours=2))
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.snoozed_by is None and not row.snooze_until_recovered
    with pytest.raises(alerts.InvalidInput):
        await alerts.snooze(rt, Actor(team_id="T1", user_id="U8"), HERE, repo_id, "forever")
    # An alert's Snooze replayed from another channel finds nothing to snooze.
    with pytest.raises(NotFound):
        await alerts.snooze(
            rt, Actor(team_id="T1", user_id="U8"), Place.channel("C-OTHER"), repo_id, "1h"
        )


async def test_a_channel_the_bot_cannot_post_in_holds_alerts_until_it_joins(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    standin.set_channel(CHANNEL, is_private=True, is_member=False)
    repo_id = await _repo(rt)
    now = utcnow()
    await _apply(rt, repo_id, failed("refused"), now)
    await _apply(rt, repo_id, failed("refused"), now)
    await _deliver_all(rt, client)
    [refused] = standin.calls_to("chat.postMessage")
    assert refused.error == "channel_not_found"
    async with rt.sessions() as session:
        project = await session.scalar(select(Project).where(Project.channel_id == CHANNEL))
        assert project is not None and project.alerts_blocked_error == "channel_not_found"
    # Not retried: more messages for that channel are held without calling Slack.
    await _apply(rt, repo_id, OK, now + timedelta(minutes=1))
    await _deliver_all(rt, client)
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert await _unsent(rt) == 2  # the alert and its recovery, kept

    standin.set_channel(CHANNEL, is_private=True, is_member=True)
    await alerts.channel_joined(rt, team_id="T1", channel_id=CHANNEL)
    await _deliver_all(rt, client)
    delivered = [c for c in standin.calls_to("chat.postMessage") if c.ok]
    assert [("thread_ts" in c.params) for c in delivered] == [False, True]  # oldest first
    assert all("Delivered late" in c.params["text"] for c in delivered)
    assert await _unsent(rt) == 0
    assert standin.violations == []


async def test_a_refused_token_is_logged_once_counted_and_not_retried_in_a_loop(
    rt: Runtime,
    client: AsyncWebClient,
    standin: SlackApiStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox._token_errors_logged.discard("token_revoked")
    before = metrics.SLACK_TOKEN_FAILURES.labels(error="token_revoked")._value.get()
    async with transaction(rt.sessions) as session:
        for n in range(3):
            entry = EntryFacts(
                id=n,
                access="app",
                registry_type="registry",
                registry_url="https://r.example",
                repository=f"team/m{n}",
            )
            await outbox.enqueue(
                session,
                dedup_key=f"t{n}",
                team_id="T1",
                channel_id="C1",
                notice=RepositoryAdded(entry, user_id="U1", healthy=True),
            )
    standin.fail_next("chat.postMessage", "token_revoked", times=5)
    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        for _ in range(3):
            await outbox.deliver_pending(rt.sessions, SlackPoster(client), owner="test")
    assert len(standin.calls_to("chat.postMessage")) == 1  # the rest of the batch waits
    assert [r.levelno for r in caplog.records if "token_revoked" in r.message] == [logging.ERROR]
    assert metrics.SLACK_TOKEN_FAILURES.labels(error="token_revoked")._value.get() == before + 1
    async with rt.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
    assert all(
        r.sent_at is None and r.next_attempt_at > utcnow() + timedelta(minutes=9) for r in rows
    )


def ok_expiring(expires_at: datetime | None) -> ConnectionTestResult:
    return ConnectionTestResult(
        steps=OK.steps,
        error_kind=None,
        message=OK.message,
        latency_ms=1.0,
        round_trips=2,
        credential_expires_at=expires_at,
        credential_expiry_known=True,
    )


async def test_expiry_is_stored_and_warned_7_days_and_1_day_before_once_each(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_id = await _repo(rt)
    expires = utcnow().replace(microsecond=0) + timedelta(days=30)
    for before in (timedelta(days=10), timedelta(days=7, hours=1)):
        await _apply(rt, repo_id, ok_expiring(expires), expires - before)
    await _deliver_all(rt, client)
    assert standin.calls_to("chat.postMessage") == []
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.credential_expires_at == expires

    for before in (timedelta(days=6, hours=23), timedelta(days=5), timedelta(days=2)):
        await _apply(rt, repo_id, ok_expiring(expires), expires - before)
    await _deliver_all(rt, client)
    [warning] = standin.calls_to("chat.postMessage")
    assert "expires in 7 days" in warning.params["text"] and "thread_ts" not in warning.params

    for before in (timedelta(hours=23), timedelta(hours=12), timedelta(hours=1)):
        await _apply(rt, repo_id, ok_expiring(expires), expires - before)
    await _deliver_all(rt, client)
    posts = standin.calls_to("chat.postMessage")
    assert len(posts) == 2
    assert posts[1].params["thread_ts"] == warning.response["ts"]
    assert "expires in 1 day" in posts[1].params["text"]
    [edit] = standin.calls_to("chat.update")
    assert "expires in 1 day" in edit.params["text"]

    # Renewed: the warning's message says so, and the count starts over for the new date.
    renewed = expires + timedelta(days=365)
    await _apply(rt, repo_id, ok_expiring(renewed), expires - timedelta(minutes=30))
    await _deliver_all(rt, client)
    assert "replaced or renewed" in standin.calls_to("chat.update")[-1].params["text"]
    assert len(standin.calls_to("chat.postMessage")) == 2
    assert await _unsent(rt) == 0
    assert standin.violations == []


async def test_an_expiry_first_seen_within_a_day_is_one_warning(
    rt: Runtime, client: AsyncWebClient, standin: SlackApiStandIn
) -> None:
    repo_id = await _repo(rt)
    now = utcnow()
    await _apply(rt, repo_id, ok_expiring(now + timedelta(hours=12)), now)
    await _apply(rt, repo_id, ok_expiring(now + timedelta(hours=12)), now + timedelta(hours=1))
    await _deliver_all(rt, client)
    [warning] = standin.calls_to("chat.postMessage")
    assert "expires in 1 day" in warning.params["text"]
    # Never-expiring (Harbor's -1) clears it; unknown (a plain registry) leaves it.
    await _apply(rt, repo_id, OK, now + timedelta(hours=2))
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.credential_expires_at is not None
    await _apply(rt, repo_id, ok_expiring(None), now + timedelta(hours=3))
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.credential_expires_at is None

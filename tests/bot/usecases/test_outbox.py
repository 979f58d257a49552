"""The outbox: a queued channel message is sent once, even with two senders racing,
and a Slack failure delays it instead of losing it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncSlackResponse, AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import outbox
from bot.notices import EntryFacts, RepositoryAdded
from handlers.delivery import SlackPoster
from storage.db import create_engine, session_factory, transaction
from storage.migrate import upgrade
from storage.models import OutboxMessage
from tests.support.databases import fresh_postgres_database, terminate_backends
from tests.support.slack_api import SlackApiStandIn


@pytest.fixture
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


def message(n: int) -> RepositoryAdded:
    """A channel message whose text names `message/N` (the repository it reports)."""
    entry = EntryFacts(
        id=n,
        access="app",
        registry_type="registry",
        registry_url="https://registry.example.com",
        repository=f"message/{n}",
    )
    return RepositoryAdded(entry, user_id="U1", healthy=True)


def sent_names(calls: list[Any]) -> list[str]:
    return [re.findall(r"message/\d+", c.params["text"])[0] for c in calls]


async def _queue(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    async with transaction(sessions) as session:
        for n in range(count):
            assert await outbox.enqueue(
                session, dedup_key=f"k{n}", team_id="T1", channel_id="C1", notice=message(n)
            )
        # The same notification queued again (a retried request) is a no-op.
        assert not await outbox.enqueue(
            session, dedup_key="k0", team_id="T1", channel_id="C1", notice=message(0)
        )


async def test_two_racing_senders_post_each_message_once(
    sessions: async_sessionmaker[AsyncSession], standin: SlackApiStandIn
) -> None:
    await _queue(sessions, 20)
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.base_url)
    sent = await asyncio.gather(
        outbox.deliver_pending(sessions, SlackPoster(client), owner="a", limit=20),
        outbox.deliver_pending(sessions, SlackPoster(client), owner="b", limit=20),
    )
    assert sum(sent) == 20
    texts = sorted(sent_names(standin.calls_to("chat.postMessage")))
    assert texts == sorted(f"message/{n}" for n in range(20))


async def test_a_failed_post_is_kept_and_sent_later(
    sessions: async_sessionmaker[AsyncSession], standin: SlackApiStandIn
) -> None:
    await _queue(sessions, 1)
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.base_url)
    standin.fail_next("chat.postMessage", error="internal_error")
    assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="a") == 0
    async with sessions() as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None and row.sent_at is None and row.last_error == "internal_error"
        # Make the retry due now instead of after the back-off.
        row.next_attempt_at = row.created_at
        await session.commit()
    assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="a") == 1
    assert sent_names([c for c in standin.calls_to("chat.postMessage") if c.ok]) == ["message/0"]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.mark.postgres
async def test_a_message_is_not_posted_twice_when_postgresql_cuts_the_connection_after_the_post(
    standin: SlackApiStandIn, postgres_url: str
) -> None:
    """A PostgreSQL restart between Slack's answer and the record of it: the record is
    written on a new connection, so the channel does not get the message again when
    the lease runs out."""
    # No pre-ping: the pooled connection the record would use is the one cut.
    engine = create_engine(postgres_url, pool_pre_ping=False, pool_size=1, max_overflow=0)
    sessions = session_factory(engine)
    database = postgres_url.rsplit("/", 1)[1]

    class PostThenRestart(AsyncWebClient):
        async def chat_postMessage(self, **kwargs: Any) -> AsyncSlackResponse:
            response = await super().chat_postMessage(**kwargs)
            assert await terminate_backends(database) >= 1
            return response

    try:
        await _queue(sessions, 1)
        client = PostThenRestart(token=standin.bot_token, base_url=standin.base_url)
        assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="a") == 1
        async with sessions() as session:
            row = await session.scalar(select(OutboxMessage))
            assert row is not None and row.sent_at is not None and row.lease_owner is None
            # Even with its lease long gone, nothing is due any more.
            row.lease_expires_at = row.created_at
            await session.commit()
        assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="b") == 0
        assert sent_names(standin.calls_to("chat.postMessage")) == ["message/0"]
    finally:
        await engine.dispose()


async def test_stopping_mid_post_records_the_post_and_hands_back_the_rest(
    sessions: async_sessionmaker[AsyncSession], standin: SlackApiStandIn
) -> None:
    """The server stops (its sender is cancelled) while Slack is taking a message: that
    message is still marked sent, so the next start does not post it again, and the
    messages not tried yet are free for the next sender at once (no lease to wait out)."""
    await _queue(sessions, 3)
    posting = asyncio.Event()

    class SlowSlack(AsyncWebClient):
        async def chat_postMessage(self, **kwargs: Any) -> AsyncSlackResponse:
            posting.set()
            response = await super().chat_postMessage(**kwargs)
            await asyncio.sleep(0.3)  # Slack took it; the answer is still on its way
            return response

    slow = SlowSlack(token=standin.bot_token, base_url=standin.base_url)
    sender = asyncio.create_task(
        outbox.deliver_pending(sessions, SlackPoster(slow), owner="stopping")
    )
    await asyncio.wait_for(posting.wait(), 10)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [r.sent_at is not None for r in rows] == [True, False, False]
    assert all(r.lease_owner is None for r in rows)
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.base_url)
    assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="next") == 2
    assert sent_names(standin.calls_to("chat.postMessage")) == [
        "message/0",
        "message/1",
        "message/2",
    ]


async def test_a_message_queued_by_the_previous_version_is_still_sent(
    sessions: async_sessionmaker[AsyncSession], standin: SlackApiStandIn
) -> None:
    """Rows queued before notices hold their words and Block Kit: sent as they are."""
    blocks = [{"type": "section", "block_id": "added", "text": {"type": "mrkdwn", "text": "hi"}}]
    async with transaction(sessions) as session:
        session.add(
            OutboxMessage(
                dedup_key="old",
                team_id="T1",
                channel_id="C1",
                text="hi",
                blocks_json=json.dumps(blocks),
            )
        )
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.base_url)
    assert await outbox.deliver_pending(sessions, SlackPoster(client), owner="a") == 1
    [call] = standin.calls_to("chat.postMessage")
    assert call.ok and call.params["text"] == "hi" and call.params["blocks"] == blocks

"""Faults around the bot, each seen from the user's side.

- PostgreSQL drops the bot's connections (as a server restart does) between
  requests: the next requests are answered without restarting the bot, and every
  saved repository is whole (its channel message and check history with it).
- The image registry is down during a delete in IR: the entry stays, the user is
  told why, the channel hears nothing.
- The Slack API is down, or rate limits, while channel messages go out: they are
  delivered later, each exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import ConnectionCheck, ImageRepository, OutboxMessage
from tests.e2e.flow import Flow, texts
from tests.e2e.helpers import add_values
from tests.support.bot_process import BotProcess
from tests.support.databases import fresh_postgres_database, terminate_backends
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient, checkboxes_value, values_by_label
from tests.support.waiting import wait_until

pytestmark = pytest.mark.registry

USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))


async def add_repository(flow: Flow, registry: RegistryServer, repository: str) -> None:
    registry.client(USER, PASSWORD).push_image(repository)
    view = await flow.open_modal("add")
    values = add_values(
        view, url=registry.url, repository=repository, username=USER, password=PASSWORD
    )
    await flow.submit(view, values)
    saved = await flow.until_update(lambda v: "Saved" in texts(v) or "Not saved" in texts(v))
    assert "Saved the app repository" in texts(saved), texts(saved)


def posted(standin: SlackApiStandIn, channel: str, words: str) -> list[Any]:
    return [
        c
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("channel") == channel and words in str(c.params.get("text"))
    ]


# -- PostgreSQL connections killed between requests --------------------------------


@pytest.fixture
def postgres_bot(standin: SlackApiStandIn, tmp_path: Path) -> Iterator[tuple[BotProcess, str]]:
    with (
        fresh_postgres_database() as url,
        BotProcess(
            slack_api_url=standin.base_url,
            bot_token=standin.bot_token,
            database_url=url,
            log_path=tmp_path / "bot.log",
        ) as process,
    ):
        yield process, url


@pytest.mark.postgres
async def test_the_bot_survives_postgresql_dropping_its_connections(
    postgres_bot: tuple[BotProcess, str],
    standin: SlackApiStandIn,
    registry: RegistryServer,
    secrets: list[str],
) -> None:
    process, url = postgres_bot
    database = url.rsplit("/", 1)[1]
    secrets.append(PASSWORD)
    client = SlackClient(
        process.events_url, process.signing_secret, standin=standin, channel_id="CPGFAULT"
    )
    flow = Flow(client, standin, process, "CPGFAULT", url)
    flow.skip_seen("views.open")
    flow.skip_seen("views.update")
    flow.skip_seen("response_url")
    flow.skip_seen("chat.postMessage")
    try:
        await flow.create_project("pg-fault")
        killed = await terminate_backends(database)
        assert killed >= 1, "the bot held no connection to cut"
        await add_repository(flow, registry, "pgfault/one")
        assert await terminate_backends(database) >= 1
        await add_repository(flow, registry, "pgfault/two")
        assert await terminate_backends(database) >= 1
        blocks = await flow.list_blocks()
        assert "`pgfault/one`" in texts(blocks) and "`pgfault/two`" in texts(blocks)
        assert process.running, "the bot had to be restarted"

        async def messages_sent() -> bool:
            # Both, in whatever order: a message whose sender lost its connection
            # mid-delivery waits for its lease (60 s) to expire before it is sent.
            return all(posted(standin, "CPGFAULT", f"pgfault/{n}") for n in ("one", "two"))

        await wait_until(messages_sent, "both messages sent", timeout=75)

        # No half-saved record: each repository came with its message and its check.
        async def whole(session: Any) -> list[tuple[str, int, int]]:
            out = []
            for row in await session.scalars(select(ImageRepository)):
                outbox = list(
                    await session.scalars(
                        select(OutboxMessage).where(
                            OutboxMessage.dedup_key.startswith(f"added:{row.id}:")
                        )
                    )
                )
                checks = list(
                    await session.scalars(
                        select(ConnectionCheck).where(ConnectionCheck.repository_id == row.id)
                    )
                )
                out.append((row.repository, len(outbox), len(checks)))
            return sorted(out)

        assert await flow.db(whole) == [("pgfault/one", 1, 1), ("pgfault/two", 1, 1)]
        assert len(posted(standin, "CPGFAULT", "pgfault/one")) == 1
        assert "Traceback" not in process.log()
    finally:
        await client.aclose()


# -- the registry down during a delete in IR ------------------------------------------


async def test_a_delete_in_ir_with_the_registry_down_keeps_the_entry_and_says_why(
    flow: Flow, registry: RegistryServer, standin: SlackApiStandIn, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("ir-down")
    await add_repository(flow, registry, "irdown/app")
    await flow.next_call("chat.postMessage")
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "irdown/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    ticked = values_by_label(view, {"Image registry": checkboxes_value("also_in_registry")})
    registry.stop()
    try:
        answer = await flow.submit(view, ticked)
        assert "Deleting in the image registry" in texts(answer["view"])
        kept = await flow.next_update()
    finally:
        registry.start()
    shown = texts(kept)
    assert "did not delete irdown/app" in shown and "The entry stays in the list" in shown
    assert any(w in shown.lower() for w in ("refused", "reach", "connect", "down")), shown
    assert [r.repository for r in await flow.repositories()] == ["irdown/app"]
    await wait_until(flow.nothing_unsent, "nothing left unsent", timeout=15)
    told = posted(standin, flow.channel_id, "irdown/app")
    assert [c for c in told if "elet" in str(c.params)] == []
    assert registry.client(USER, PASSWORD).tags("irdown/app") == ["latest"]


# -- the Slack API down or rate limiting while channel messages go out ---------------


async def test_channel_messages_wait_out_a_slack_outage_and_arrive_once(
    flow: Flow, registry: RegistryServer, standin: SlackApiStandIn, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("slack-down")
    registry.client(USER, PASSWORD).push_image("outage/app")
    view = await flow.open_modal("add")
    values = add_values(
        view, url=registry.url, repository="outage/app", username=USER, password=PASSWORD
    )
    standin.set_down(True, mode="http_503")
    try:
        await flow.submit(view, values)

        async def stored_but_unsent() -> bool:
            async def read(session: Any) -> bool:
                row = await session.scalar(
                    select(OutboxMessage).where(OutboxMessage.blocks_json.contains("outage/app"))
                )
                return row is not None and row.attempts >= 1 and row.sent_at is None

            return bool(await flow.db(read))

        await wait_until(stored_but_unsent, "stored but unsent", timeout=30)
        assert [r.repository for r in await flow.repositories()] == ["outage/app"]
    finally:
        standin.set_down(False)
    failed = [c for c in posted(standin, flow.channel_id, "`outage/app`") if not c.ok]
    assert failed and all(c.status == 503 for c in failed)

    async def delivered() -> bool:
        return any(c.ok for c in posted(standin, flow.channel_id, "`outage/app`"))

    await wait_until(delivered, "delivered", timeout=40)
    await wait_until(flow.nothing_unsent, "nothing left unsent", timeout=15)
    assert len([c for c in posted(standin, flow.channel_id, "`outage/app`") if c.ok]) == 1


async def test_channel_messages_wait_out_rate_limits_and_arrive_once(
    flow: Flow, registry: RegistryServer, standin: SlackApiStandIn, secrets: list[str]
) -> None:
    secrets.append(PASSWORD)
    await flow.create_project("slack-429")
    await add_repository(flow, registry, "limited/app")
    await flow.next_call("chat.postMessage")
    blocks = await flow.list_blocks()
    await flow.menu(blocks, "limited/app", "Delete")
    view = dict((await flow.next_call("views.open")).response["view"])
    # More 429s than the Web API client retries by itself: the outbox has to retry later.
    standin.rate_limit_next("chat.postMessage", retry_after=1, times=5)
    await flow.submit(view, values_by_label(view, {"Image registry": checkboxes_value()}))

    async def delivered() -> bool:
        return any(c.ok for c in posted(standin, flow.channel_id, "limited/app")[1:])

    await wait_until(delivered, "delivered", timeout=45)
    await wait_until(flow.nothing_unsent, "nothing left unsent", timeout=15)
    calls = posted(standin, flow.channel_id, "limited/app")[1:]  # [0] is "added"
    assert [c.status for c in calls].count(429) == 5
    assert len([c for c in calls if c.ok]) == 1
    assert await flow.repositories() == []

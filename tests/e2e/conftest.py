"""End-to-end fixtures: the Web API stand-in and the real bot process, per module.

Every test then talks to the bot as Slack does (signed requests) through a
`Flow`, and ends with two checks made by the autouse `slack_contract` fixture:
Slack would have accepted every call the bot made (`standin.violations == []`),
and no secret the test typed appears in any recorded Web API call or in the
bot's log.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.flow import Flow, bot_process
from tests.support.bot_process import BotProcess
from tests.support.databases import sqlite_url
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_server import (
    HTPASSWD_USERS,
    RegistryServer,
    skip_or_fail_without_registry,
)
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient

_channels = itertools.count(1)


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


@pytest.fixture(scope="module")
def database_url_e2e(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="module")
def bot(
    standin: SlackApiStandIn, database_url_e2e: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    with bot_process(standin, database_url_e2e, tmp_path_factory) as process:
        yield process


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A real registry with htpasswd users (HTPASSWD_USERS), one per module."""
    skip_or_fail_without_registry()
    with RegistryServer(Path(tmp_path_factory.mktemp("registry")), htpasswd=HTPASSWD_USERS) as r:
        yield r


@pytest.fixture(scope="module")
def harbor() -> Iterator[HarborStandIn]:
    """The Harbor stand-in, one per module; fails on any call outside Harbor's swagger."""
    server = HarborStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()
    assert server.violations == []


@pytest.fixture
def secrets() -> list[str]:
    """Secrets a test types; `slack_contract` checks that none leaks."""
    return []


@pytest.fixture(autouse=True)
def slack_contract(request: pytest.FixtureRequest, secrets: list[str]) -> Iterator[None]:
    if "standin" not in request.fixturenames:
        yield
        return
    standin: SlackApiStandIn = request.getfixturevalue("standin")
    bot: BotProcess = request.getfixturevalue("bot")
    standin.clear()
    yield
    assert standin.violations == []
    recorded = json.dumps([c.params for c in standin.calls])
    leaked = [s for s in secrets if s in recorded]
    assert not leaked, "a secret reached a Slack Web API call"
    bot.assert_log_free_of(secrets)


@pytest.fixture
def channel_id() -> str:
    return f"C{next(_channels):06d}E2E"


@pytest.fixture
async def flow(
    standin: SlackApiStandIn, bot: BotProcess, channel_id: str, database_url_e2e: str
) -> AsyncIterator[Flow]:
    client = SlackClient(
        bot.events_url, bot.signing_secret, standin=standin, user_id="U1", channel_id=channel_id
    )
    try:
        yield Flow(client, standin, bot, channel_id, database_url_e2e)
    finally:
        await client.aclose()

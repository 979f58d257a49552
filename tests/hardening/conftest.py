"""Hardening tests reuse the end-to-end harness: the real bot process, the Web API
stand-in and a `Flow` per test (tests/e2e/conftest.py), plus a real registry."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    bot,
    channel_id,
    database_url_e2e,
    flow,
    registry,
    secrets,
    standin,
)
from tests.support.bot_process import BotProcess
from tests.support.slack_api import SlackApiStandIn


@pytest.fixture(autouse=True)
def slack_contract(request: pytest.FixtureRequest) -> Iterator[None]:
    """The e2e checks for tests that drive the shared bot through a `flow`: Slack would
    have accepted every Web API call, and no secret the test typed reached a call or
    the bot's log. (The in-process fuzz makes its own checks.)"""
    if "flow" not in request.fixturenames:
        yield
        return
    api: SlackApiStandIn = request.getfixturevalue("standin")
    process: BotProcess = request.getfixturevalue("bot")
    typed: list[str] = request.getfixturevalue("secrets")
    api.clear()
    yield
    assert api.violations == []
    recorded = json.dumps([c.params for c in api.calls])
    assert not [s for s in typed if s in recorded], "a secret reached a Slack Web API call"
    process.assert_log_free_of(typed)

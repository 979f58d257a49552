"""Fixtures for the tests of the Slack test harness itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.slack_api import SlackApiStandIn


@pytest.fixture
def standin() -> Iterator[SlackApiStandIn]:
    """A started Web API stand-in, stopped (port released) when the test ends."""
    with SlackApiStandIn() as api:
        yield api

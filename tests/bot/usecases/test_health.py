"""The health state machine as a table: a sequence of connection test results applied by
bot.usecases.health.apply_result (with bot.incidents), and what the list and the channel
then show. On SQLite and PostgreSQL (the `sessions` fixture)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics, notices
from bot.runtime import Runtime
from bot.usecases import health
from handlers.ui.channel import render
from registry import ConnectionTestResult, ErrorKind
from registry.results import CheckStep
from storage.crypto import SecretBox
from storage.db import transaction
from storage.enums import CheckTrigger, Health
from storage.models import ImageRepository, OutboxMessage, utcnow
from tests.bot.recheck import seed
from tests.bot.recheck.conftest import settings_for

NOW = utcnow().replace(microsecond=0)
PAST = NOW - timedelta(days=1)


def _result(ok: bool, *, expires_at: datetime | None = None) -> ConnectionTestResult:
    return ConnectionTestResult(
        steps=(CheckStep("reachable", ok, "ok" if ok else "refused"),),
        error_kind=None if ok else ErrorKind.CONNECTION_REFUSED,
        message="Pull access works." if ok else "Connection refused.",
        latency_ms=1.0,
        round_trips=1,
        credential_expires_at=expires_at,
        credential_expiry_known=expires_at is not None,
    )


UP, DOWN, EXPIRED = _result(True), _result(False), _result(True, expires_at=PAST)

# name, alert_after, results in order, then: health, consecutive failures, alerted,
# the kinds of channel message queued (by their dedup key's first word).
TABLE = [
    ("unknown until tested", 2, [], Health.UNKNOWN, 0, False, []),
    ("unknown -> healthy", 2, [UP], Health.HEALTHY, 0, False, []),
    ("one failure is not announced", 2, [DOWN], Health.FAILING, 1, False, []),
    ("failing after alert_after failures", 2, [DOWN, DOWN], Health.FAILING, 2, True, ["failing"]),
    ("alert_after 3 waits for the third", 3, [DOWN, DOWN], Health.FAILING, 2, False, []),
    ("a third failure keeps one alert", 2, [DOWN] * 3, Health.FAILING, 3, True, ["failing"]),
    ("flapping is not announced", 2, [DOWN, UP, DOWN], Health.FAILING, 1, False, []),
    (
        "failing -> healthy tells the thread",
        2,
        [DOWN, DOWN, UP],
        Health.HEALTHY,
        0,
        False,
        ["failing", "recovered"],
    ),
    ("an expired credential fails a passing test", 2, [EXPIRED], Health.FAILING, 1, False, []),
    ("healthy -> failing -> healthy, unannounced", 2, [UP, DOWN, UP], Health.HEALTHY, 0, False, []),
]


@pytest.fixture
async def rt(
    sessions: async_sessionmaker[AsyncSession], migrated_url: str, fernet_key: str, box: SecretBox
) -> AsyncIterator[Runtime]:
    yield Runtime(
        settings=settings_for(migrated_url, fernet_key),
        engine=None,  # type: ignore[arg-type]  # only the session factory is used
        sessions=sessions,
        box=box,
        registry=None,  # type: ignore[arg-type]  # results are applied directly
    )


def _scheduled_tests() -> float:
    total = 0.0
    for metric in metrics.CONNECTION_TESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("trigger") == "scheduled":
                total += sample.value
    return total


@pytest.mark.parametrize(
    ("alert_after", "results", "state", "failures", "alerted", "messages"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
async def test_health_transitions(
    rt: Runtime,
    alert_after: int,
    results: list[ConnectionTestResult],
    state: Health,
    failures: int,
    alerted: bool,
    messages: list[str],
) -> None:
    project_id = await seed.project(rt.sessions, channel_id="C-HEALTH", name="health")
    [repo_id] = await seed.repositories(
        rt.sessions, None, project_id=project_id, registry_url="https://r.test", count=1
    )
    counted_before = _scheduled_tests()
    for minute, result in enumerate(results):
        async with transaction(rt.sessions) as session:
            row = await session.get(ImageRepository, repo_id)
            assert row is not None
            await health.apply_result(
                session,
                row,
                result,
                trigger=CheckTrigger.SCHEDULED,
                alert_after=alert_after,
                now=NOW + timedelta(minutes=minute),
            )
    async with rt.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None
        keys = list(await session.scalars(select(OutboxMessage.dedup_key).order_by("id")))
    assert (row.health, row.consecutive_failures, row.alerted) == (state, failures, alerted)
    assert [key.split(":", 1)[0] for key in keys] == messages
    # each applied result is counted once in imagerepo_connection_tests_total
    assert _scheduled_tests() - counted_before == len(results)
    if results and results[-1] is EXPIRED:
        assert row.last_error_kind == ErrorKind.AUTHENTICATION_FAILED.value


async def test_low_docker_hub_pulls_warn_the_channel_once_per_window(rt: Runtime) -> None:
    """A passed test that says at most a tenth of the pulls are left queues one warning for
    the channel; more tests in the same quota window add none; plenty left says nothing."""
    from dataclasses import replace

    from registry.results import PullQuota

    project_id = await seed.project(rt.sessions, channel_id="C-PULLS", name="pulls")
    [repo_id] = await seed.repositories(
        rt.sessions, None, project_id=project_id, registry_url="https://r.test", count=1
    )
    plenty = replace(UP, pull_quota=PullQuota(100, 50, 21600))
    low = replace(UP, pull_quota=PullQuota(100, 7, 21600))
    start = NOW.replace(hour=0, minute=0, second=0)  # the start of a 6-hour window
    for minute, result in enumerate([plenty, low, low]):
        async with transaction(rt.sessions) as session:
            row = await session.get(ImageRepository, repo_id)
            assert row is not None
            await health.apply_result(
                session,
                row,
                result,
                trigger=CheckTrigger.SCHEDULED,
                alert_after=2,
                now=start + timedelta(minutes=minute),
            )
    async with rt.sessions() as session:
        queued = list(await session.scalars(select(OutboxMessage).order_by("id")))
    assert [m.dedup_key.split(":", 1)[0] for m in queued] == ["pulls"]
    # The outbox keeps the notice as data; handlers/ui/channel words it when it is sent.
    notice = notices.load(json.loads(queued[0].blocks_json or "null"))
    assert isinstance(notice, notices.PullsLow)
    assert "pulls left: 7 of 100 per 6 h" in render(notice).text

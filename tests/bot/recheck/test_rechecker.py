"""The re-check pass in-process, on SQLite and PostgreSQL, with a scripted registry.

What the channel hears is decided by bot.usecases.health.apply_result; these tests
check that the scheduler feeds it correctly: each due connection once, at most
`concurrency` at once, results recorded only by the lease holder, stale results
dropped, and messages queued once per change of state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.recheck import CLAIM_AHEAD, Rechecker
from bot.runtime import Runtime
from storage import repositories
from storage.db import create_engine, session_factory, transaction
from storage.models import ConnectionCheck, ImageRepository, OutboxMessage, utcnow
from tests.bot.recheck import seed
from tests.bot.recheck.conftest import ScriptedRegistry

URL = "https://registry.example.com"


async def _make_due(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(ImageRepository).values(next_check_at=utcnow()))


async def _outbox_keys(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(
            await session.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.id))
        )


async def _history(sessions: async_sessionmaker[AsyncSession]) -> list[ConnectionCheck]:
    async with sessions() as session:
        return list(await session.scalars(select(ConnectionCheck).order_by(ConnectionCheck.id)))


async def test_a_change_of_state_is_announced_once_and_flapping_is_not(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    project_id = await seed.project(runtime.sessions)
    [repo_id] = await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=URL,
        count=1,
        username="ci",
        secret="pw-123456",
    )
    rechecker = make_rechecker()
    # up, down, up, down (flapping: one failure at a time is not announced), then down
    # three times (announced once), then up twice (recovery announced once).
    script = [True, False, True, False, False, False, False, True, True]
    keys_after: list[list[str]] = []
    for up in script:
        scripted.down = set() if up else {URL}
        await _make_due(runtime.sessions)
        stats = await rechecker.run_due()
        assert stats.recorded == 1
        keys_after.append(await _outbox_keys(runtime.sessions))

    counts = [len(keys) for keys in keys_after]
    assert counts == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    failing, recovered = keys_after[-1]
    assert failing.startswith(f"failing:{repo_id}:") and recovered.startswith(
        f"recovered:{repo_id}:"
    )
    assert failing.split(":", 2)[2] == recovered.split(":", 2)[2]  # the same outage
    history = await _history(runtime.sessions)
    assert [c.ok for c in history] == script
    assert {c.trigger for c in history} == {"scheduled"}
    assert rechecker.total.notified == 2


async def test_a_pass_checks_each_due_connection_once_within_the_concurrency_bound(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    scripted.delay = 0.02
    project_id = await seed.project(runtime.sessions)
    ids = await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=120
    )
    async with runtime.sessions() as session:
        updated_before = dict(
            (await session.execute(select(ImageRepository.id, ImageRepository.updated_at))).all()
        )
    rechecker = make_rechecker(concurrency=10, interval=600.0, jitter=60.0)
    started = utcnow()
    stats = await rechecker.run_due()

    assert stats.claimed == stats.recorded == 120 and stats.lost == stats.errors == 0
    assert sorted(scripted.tested) == sorted(f"team/app-{i}" for i in range(120))
    assert scripted.max_in_flight == 10  # filled to the bound, never over it
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(ImageRepository)))
    assert {r.id for r in rows} == set(ids)
    for row in rows:
        assert row.lease_owner is None and row.lease_expires_at is None
        assert row.health == "healthy" and row.last_checked_at is not None
        assert row.last_checked_at >= started
        # the next check is one interval after this one, plus at most the jitter
        assert timedelta(seconds=600) <= row.next_check_at - row.last_checked_at
        assert row.next_check_at - row.last_checked_at <= timedelta(seconds=660)
        assert row.updated_at == updated_before[row.id]  # not a change by a person
    assert len(await _history(runtime.sessions)) == 120

    # Nothing is due any more: a second pass does nothing.
    again = await rechecker.run_due()
    assert again.claimed == 0 and len(scripted.tested) == 120


def _scheduled_tests_counted() -> float:
    return sum(
        sample.value
        for metric in metrics.CONNECTION_TESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("trigger") == "scheduled"
    )


async def test_each_scheduled_check_is_counted_once_in_the_metrics(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    """imagerepo_connection_tests_total{trigger="scheduled"} grows by one per check run."""
    project_id = await seed.project(runtime.sessions)
    await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=3
    )
    scripted.down = {URL}
    before = _scheduled_tests_counted()
    stats = await make_rechecker().run_due()
    assert stats.recorded == 3
    assert _scheduled_tests_counted() - before == 3


async def test_two_instances_share_a_pass_without_checking_anything_twice(
    runtime: Runtime, migrated_url: str, scripted: ScriptedRegistry
) -> None:
    scripted.delay = 0.01
    project_id = await seed.project(runtime.sessions)
    await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=200
    )
    other_engine = create_engine(migrated_url)
    try:
        other = Runtime(
            settings=runtime.settings,
            engine=other_engine,
            sessions=session_factory(other_engine),
            box=runtime.box,
            registry=scripted,  # type: ignore[arg-type]
        )
        from bot.recheck import RecheckConfig

        config = RecheckConfig.from_settings(runtime.settings, env={})
        first, second = Rechecker(runtime, config, owner="a"), Rechecker(other, config, owner="b")
        a, b = await asyncio.gather(first.run_due(), second.run_due())
    finally:
        await other_engine.dispose()
    assert a.recorded + b.recorded == 200 and a.recorded > 0 and b.recorded > 0
    assert len(scripted.tested) == len(set(scripted.tested)) == 200
    assert len(await _history(runtime.sessions)) == 200


async def test_a_result_is_dropped_when_the_lease_was_lost_or_the_row_deleted(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    project_id = await seed.project(runtime.sessions)
    taken, deleted, kept = await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=3
    )

    async def meanwhile(target: object) -> None:
        if getattr(target, "repository", "") != "team/app-0":
            return
        async with transaction(runtime.sessions) as session:
            # Our lease "expired" and another instance took the row over...
            await session.execute(
                update(ImageRepository)
                .where(ImageRepository.id == taken)
                .values(lease_owner="another-instance")
            )
            # ...and someone deleted another one.
            await session.execute(delete(ImageRepository).where(ImageRepository.id == deleted))

    scripted.during_test = meanwhile  # runs as the first test starts...
    scripted.delay = 0.3  # ...well before any of the three ends
    stats = await make_rechecker().run_due()
    assert stats.claimed == 3 and stats.recorded == 1 and stats.lost == 2
    assert [c.repository_id for c in await _history(runtime.sessions)] == [kept]
    async with runtime.sessions() as session:
        row = await session.get(ImageRepository, taken)
        assert row is not None and row.lease_owner == "another-instance"
        assert row.last_checked_at is None  # the other instance will record its own result


async def test_a_result_for_credentials_changed_meanwhile_is_dropped_and_rechecked_soon(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    project_id = await seed.project(runtime.sessions)
    [repo_id] = await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=URL,
        count=1,
        username="old",
        secret="old-password",
    )
    scripted.down = {URL}  # the old account's test fails...

    async def new_account(_target: object) -> None:
        async with transaction(runtime.sessions) as session:
            row = await repositories.get(session, repo_id)
            repositories.set_credentials(runtime.box, row, username="new", secret="new-password")

    scripted.during_test = new_account
    before = utcnow()
    stats = await make_rechecker().run_due()
    assert stats.recorded == 0 and stats.lost == 1
    assert await _history(runtime.sessions) == []  # ...but says nothing about the new one
    async with runtime.sessions() as session:
        row = await session.get(ImageRepository, repo_id)
        assert row is not None and row.health == "unknown" and row.lease_owner is None
        assert row.next_check_at <= utcnow() and row.next_check_at >= before  # due again now


async def test_stop_hands_unfinished_claims_back(
    runtime: Runtime, scripted: ScriptedRegistry, make_rechecker: Callable[..., Rechecker]
) -> None:
    scripted.delay = 30.0  # tests that will not finish
    project_id = await seed.project(runtime.sessions)
    await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=25
    )
    rechecker = make_rechecker(concurrency=10)
    await rechecker.tick()
    for _ in range(200):
        if scripted.in_flight == 10:
            break
        await asyncio.sleep(0.01)
    async with runtime.sessions() as session:
        leased = await session.scalar(
            select(func.count()).where(ImageRepository.lease_owner == "test-instance")
        )
    # What is being tested and a short read-ahead are claimed, not the whole table.
    assert leased == 10 + int(10 * CLAIM_AHEAD) < 25
    await asyncio.wait_for(rechecker.stop(), 10)
    async with runtime.sessions() as session:
        owners = set(await session.scalars(select(ImageRepository.lease_owner)))
    assert owners == {None}
    assert await _history(runtime.sessions) == []


async def test_old_history_is_pruned_to_the_newest_checks(
    runtime: Runtime, make_rechecker: Callable[..., Rechecker]
) -> None:
    project_id = await seed.project(runtime.sessions)
    [repo_id] = await seed.repositories(
        runtime.sessions, runtime.box, project_id=project_id, registry_url=URL, count=1
    )
    rechecker = make_rechecker(history_keep=3)
    for _ in range(5):
        await _make_due(runtime.sessions)
        await rechecker.run_due()
    assert len(await _history(runtime.sessions)) == 5
    assert await rechecker.prune() == 2
    history = await _history(runtime.sessions)
    assert len(history) == 3 and all(c.repository_id == repo_id for c in history)

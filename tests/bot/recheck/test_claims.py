"""The claim queries (storage/schedule.py) on SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import schedule
from storage.db import create_engine, session_factory, transaction
from storage.models import ConnectionCheck, ImageRepository, utcnow
from tests.bot.recheck import seed

LEASE = timedelta(seconds=60)


async def _claim(
    sessions: async_sessionmaker[AsyncSession], owner: str, limit: int, *, at: timedelta = LEASE * 0
) -> list[int]:
    async with transaction(sessions) as session:
        return await schedule.claim_due(
            session, owner=owner, now=utcnow() + at, limit=limit, lease=LEASE
        )


async def test_claims_are_disjoint_and_leave_updated_at_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    project_id = await seed.project(sessions)
    ids = await seed.repositories(
        sessions, None, project_id=project_id, registry_url="https://r.example", count=10
    )
    async with sessions() as session:
        before = dict(
            (await session.execute(select(ImageRepository.id, ImageRepository.updated_at))).all()
        )

    first = await _claim(sessions, "a", 4)
    second = await _claim(sessions, "b", 100)
    assert len(first) == 4 and set(first).isdisjoint(second)
    assert sorted(first + second) == ids
    assert await _claim(sessions, "c", 100) == []  # every row is leased

    async with sessions() as session:
        rows = list(await session.scalars(select(ImageRepository)))
    assert {r.id: r.lease_owner for r in rows} == {i: ("a" if i in first else "b") for i in ids}
    assert {r.id: r.updated_at for r in rows} == before


async def test_rows_not_due_are_not_claimed(sessions: async_sessionmaker[AsyncSession]) -> None:
    project_id = await seed.project(sessions)
    later = utcnow() + timedelta(minutes=5)
    await seed.repositories(
        sessions,
        None,
        project_id=project_id,
        registry_url="https://r.example",
        count=3,
        next_check_at=later,
    )
    assert await _claim(sessions, "a", 10) == []
    assert len(await _claim(sessions, "a", 10, at=timedelta(minutes=6))) == 3


async def test_an_expired_lease_is_taken_over_and_release_hands_rows_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    project_id = await seed.project(sessions)
    ids = await seed.repositories(
        sessions, None, project_id=project_id, registry_url="https://r.example", count=3
    )
    assert await _claim(sessions, "crashed", 10) == ids
    assert await _claim(sessions, "other", 10, at=LEASE - timedelta(seconds=1)) == []
    assert await _claim(sessions, "other", 10, at=LEASE + timedelta(seconds=1)) == ids

    async with transaction(sessions) as session:
        assert await schedule.release(session, owner="crashed") == 0  # no longer its rows
        assert await schedule.release(session, owner="other", ids=[ids[0]]) == 1
    assert await _claim(sessions, "third", 10) == [ids[0]]


async def test_prune_keeps_the_newest_checks_of_each_repository(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    project_id = await seed.project(sessions)
    ids = await seed.repositories(
        sessions, None, project_id=project_id, registry_url="https://r.example", count=3
    )
    start = utcnow()
    async with transaction(sessions) as session:
        for index, repository_id in enumerate(ids):
            for n in range(5 + index * 3):  # 5, 8, 11 checks
                session.add(
                    ConnectionCheck(
                        repository_id=repository_id,
                        checked_at=start + timedelta(seconds=n),
                        trigger="scheduled",
                        ok=True,
                        message=str(n),
                    )
                )
    async with transaction(sessions) as session:
        assert await schedule.prune_history(session, keep=6) == (8 - 6) + (11 - 6)
    async with sessions() as session:
        kept = (
            await session.execute(
                select(
                    ConnectionCheck.repository_id, func.min(ConnectionCheck.message), func.count()
                )
                .group_by(ConnectionCheck.repository_id)
                .order_by(ConnectionCheck.repository_id)
            )
        ).all()
    # Messages are the check's number: the oldest kept is n = total - 6 (string min works < 10).
    assert [(r, c) for r, _, c in kept] == [(ids[0], 5), (ids[1], 6), (ids[2], 6)]
    assert [m for _, m, _ in kept][:2] == ["0", "2"]


async def test_instances_claiming_at_the_same_time_never_share_a_row(
    migrated_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Four claimers race (their own engines, as separate processes would); every row is
    claimed exactly once. On PostgreSQL this is SKIP LOCKED at work; on SQLite the
    single UPDATE statement."""
    project_id = await seed.project(sessions)
    ids = await seed.repositories(
        sessions, None, project_id=project_id, registry_url="https://r.example", count=400
    )
    engines = [create_engine(migrated_url) for _ in range(4)]
    try:

        async def claimer(name: str, sessions: async_sessionmaker[AsyncSession]) -> list[int]:
            mine: list[int] = []
            while True:
                got = await _claim(sessions, name, 7)
                if not got:
                    return mine
                mine.extend(got)
                await asyncio.sleep(0)

        claimed = await asyncio.gather(
            *(claimer(f"i{n}", session_factory(e)) for n, e in enumerate(engines))
        )
    finally:
        for engine in engines:
            await engine.dispose()
    everything = [i for part in claimed for i in part]
    assert sorted(everything) == ids  # all claimed, none twice
    assert sum(1 for part in claimed if part) >= 2  # they really raced

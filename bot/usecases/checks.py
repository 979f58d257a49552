"""`/imagerepo check`: re-check every connection of a project now and summarise."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.projects import load_project
from bot.usecases.repositories import RepositoryRow, record_result, saved_target
from registry import ConnectionTestResult, RepositoryTarget
from storage import repositories
from storage.enums import CheckTrigger


@dataclass(frozen=True)
class CheckSummary:
    total: int
    healthy: int
    failing: tuple[RepositoryRow, ...]
    by_error_kind: dict[str, int]


async def check_project(rt: Runtime, actor: Actor, *, channel_id: str) -> CheckSummary:
    """Test every saved repository of the channel's project, at most
    IMAGEREPO_RECHECK_CONCURRENCY at once, recording each result as the button does."""
    async with rt.sessions() as session:
        project = await load_project(session, actor.team_id, channel_id)
        rows = await repositories.of_project(session, project.id)
        targets = [(row.id, saved_target(rt, row)) for row in rows]

    limit = asyncio.Semaphore(rt.settings.recheck_concurrency)

    async def one(
        repository_id: int, target: RepositoryTarget
    ) -> tuple[ConnectionTestResult, RepositoryRow | None]:
        async with limit:
            result = await rt.registry.connection_test(target)
        return result, await record_result(rt, repository_id, result, CheckTrigger.MANUAL)

    outcomes = await asyncio.gather(*(one(rid, target) for rid, target in targets))
    failing = tuple(view for result, view in outcomes if not result.ok and view is not None)
    kinds = Counter(
        result.error_kind.value for result, _ in outcomes if not result.ok and result.error_kind
    )
    return CheckSummary(
        total=len(outcomes),
        healthy=sum(1 for result, _ in outcomes if result.ok),
        failing=failing,
        by_error_kind=dict(kinds),
    )

"""`/imagerepo check`: re-check every connection of a project now and summarise.

Any member may ask, so a pass is bounded (issue 18, item 8: 30 requests at once were
1,200 registry requests):
- one pass per project in flight in this process: a request while one runs joins it and
  gets its summary, sending nothing to any registry;
- one person starts at most one pass per project every `PER_PERSON` seconds, counted in
  the audit trail (shared by every instance); a request sooner is refused saying when
  they can again;
- each pass started is an audit record (`check`, who, the project, how many entries).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from bot import audit
from bot.audit import Action
from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.errors import TooSoon
from bot.usecases.projects import load_project
from bot.usecases.repositories import RepositoryRow, record_result, saved_target
from registry import ConnectionTestResult, RepositoryTarget
from storage import audit as trail
from storage import repositories
from storage.db import transaction
from storage.enums import CheckTrigger
from storage.models import utcnow

# One person, one project: one pass started per minute.
PER_PERSON = 60.0


@dataclass(frozen=True)
class CheckSummary:
    total: int
    healthy: int
    failing: tuple[RepositoryRow, ...]
    by_error_kind: dict[str, int]


@dataclass
class _Pass:
    started_by: str
    task: asyncio.Task[CheckSummary]


@dataclass
class _Passes:
    """This process's passes by (runtime, project id), and a lock per key so that deciding
    to start one and registering it happen as one step."""

    running: dict[tuple[int, int], _Pass] = field(default_factory=dict)
    locks: dict[tuple[int, int], asyncio.Lock] = field(default_factory=dict)


_PASSES = _Passes()


@dataclass(frozen=True)
class CheckTicket:
    """A request's place in a pass: the project, who started the pass, whether this
    request joined one that was already running."""

    project_name: str
    started_by: str
    joined: bool
    _task: asyncio.Task[CheckSummary]

    async def summary(self) -> CheckSummary:
        # Shielded: one requester going away (a timeout) does not cancel the others' pass.
        return await asyncio.shield(self._task)


async def start_check(rt: Runtime, actor: Actor, *, channel_id: str) -> CheckTicket:
    """Join the project's pass in flight, or start one (TooSoon when this person started
    one under PER_PERSON seconds ago). Await `ticket.summary()` for the result."""
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.CHECK, channel_id=channel_id)):
        async with rt.sessions() as session:
            project = await load_project(session, actor.team_id, channel_id)
        key = (id(rt), project.id)
        lock = _PASSES.locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = _PASSES.running.get(key)
            if current is not None and not current.task.done():
                return CheckTicket(project.name, current.started_by, True, current.task)
            await _require_not_too_soon(rt, actor, project.name)
            async with rt.sessions() as session:
                count = await repositories.count(session, project.id)
            async with transaction(rt.sessions) as session:
                await audit.record(
                    session,
                    audit.for_project(
                        rt,
                        actor,
                        Action.CHECK,
                        project,
                        detail=f"{count} repositor{'y' if count == 1 else 'ies'}",
                    ),
                )
            task = asyncio.create_task(_run_pass(rt, project.id))
            running = _Pass(actor.user_id, task)
            _PASSES.running[key] = running

            def ended(done: asyncio.Task[CheckSummary]) -> None:
                if not done.cancelled():
                    done.exception()  # each requester reads it; none waiting is no warning
                _forget(key, running)

            task.add_done_callback(ended)
            return CheckTicket(project.name, actor.user_id, False, task)


def _forget(key: tuple[int, int], finished: _Pass) -> None:
    if _PASSES.running.get(key) is finished:
        del _PASSES.running[key]
        _PASSES.locks.pop(key, None)


async def _require_not_too_soon(rt: Runtime, actor: Actor, project_name: str) -> None:
    since = utcnow() - timedelta(seconds=PER_PERSON)
    async with rt.sessions() as session:
        last = await trail.last_started(
            session,
            team_id=actor.team_id,
            user_id=actor.user_id,
            action=Action.CHECK,
            project=project_name,
            since=since,
        )
    if last is None:
        return
    wait = max(1, math.ceil(PER_PERSON - (utcnow() - last).total_seconds()))
    again = (utcnow() + timedelta(seconds=wait)).strftime("%H:%M:%S UTC")
    raise TooSoon(
        f"You started a check of this project less than {int(PER_PERSON)} seconds ago; "
        f"you can start another in {wait} s (at {again}). The scheduled re-checks run "
        "meanwhile.",
        retry_after=wait,
    )


async def _run_pass(rt: Runtime, project_id: int) -> CheckSummary:
    """Test every saved repository of the project, at most IMAGEREPO_RECHECK_CONCURRENCY
    at once, recording each result as the button does."""
    async with rt.sessions() as session:
        rows = await repositories.of_project(session, project_id)
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

"""`/imagerepo check` coalesced and rate-limited (issue 18, item 8), on both databases:
concurrent requests for one project share one pass; one person starts at most one pass
of a project a minute, counted in the audit trail; every start is audited."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime import Runtime
from bot.usecases import checks, projects
from bot.usecases.actor import Actor
from bot.usecases.errors import TooSoon
from storage import audit as trail

TEAM = "T1"


async def test_one_pass_at_a_time_one_start_a_minute_per_person(rt: Runtime) -> None:
    u1, u2 = Actor(TEAM, "U1"), Actor(TEAM, "U2")
    await projects.create_project(rt, u1, channel_id="CCHK", name="chk")
    tickets = await asyncio.gather(
        *(checks.start_check(rt, u1, channel_id="CCHK") for _ in range(5)),
        return_exceptions=True,
    )
    started = [t for t in tickets if isinstance(t, checks.CheckTicket) and not t.joined]
    assert len(started) == 1, tickets
    assert all(isinstance(t, checks.CheckTicket | TooSoon) for t in tickets)
    await started[0].summary()

    with pytest.raises(TooSoon, match="you can start another in") as info:
        await checks.start_check(rt, u1, channel_id="CCHK")
    assert 1 <= info.value.retry_after <= 60
    other = await checks.start_check(rt, u2, channel_id="CCHK")
    assert not other.joined and (await other.summary()).total == 0

    async with rt.sessions() as session:
        records = await trail.records(session, team_id=TEAM, project="chk")
    starts = [(r.user_id, r.outcome) for r in records if r.action == "check"]
    assert starts.count(("U1", "ok")) == 1 and starts.count(("U2", "ok")) == 1
    assert ("U1", "refused") in starts

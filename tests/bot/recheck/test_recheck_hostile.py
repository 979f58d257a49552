"""Scheduled re-checks of hostile registries (issue 11, findings 7 and 11), with the real
registry client, on SQLite and PostgreSQL: every answer is recorded with a known kind,
an unpinned entry is pinned by its first passing check, a changed realm is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot.recheck import RecheckConfig, Rechecker
from bot.runtime import Runtime
from storage.db import transaction
from storage.models import ImageRepository, utcnow
from tests.bot.recheck import seed
from tests.support.hostile_registry import API, HostileRegistry, token_answer
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer

SECRET = "recheck-hostile-pass"


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username="ci", secret=SECRET) as registry:
        yield registry


def rechecker(rt: Runtime) -> Rechecker:
    return Rechecker(rt, RecheckConfig.from_settings(rt.settings, env={}), owner="hostile-test")


async def rows(rt: Runtime) -> dict[str, ImageRepository]:
    async with rt.sessions() as session:
        return {r.repository: r for r in await session.scalars(select(ImageRepository))}


async def test_absurd_answers_are_recorded_and_a_changed_realm_is_refused(
    real_runtime: Runtime, hostile: HostileRegistry
) -> None:
    rt = real_runtime
    deep = b"[" * 200_000 + b"]" * 200_000

    def nasty(request: Request) -> Response | None:
        path = request.raw_path
        if "/inf/" in path:
            return Response.json(429, {}, [("Retry-After", "inf"), *API])
        if "/deep/" in path:
            return Response(403, deep, [("Content-Type", "application/json")])
        return None

    hostile.override = nasty
    project_id = await seed.project(rt.sessions)
    for name in ("team/inf", "team/deep", "team/app"):
        await seed.repositories(
            rt.sessions,
            rt.box,
            project_id=project_id,
            registry_url=hostile.url,
            count=1,
            repository=name,
            username="ci",
            secret=SECRET,
        )
    stats = await rechecker(rt).run_due()
    assert stats.recorded == 3 and stats.errors == 0
    found = await rows(rt)
    assert found["team/inf"].last_error_kind == "rate_limited"
    assert found["team/deep"].last_error_kind == "permission_denied"
    app = found["team/app"]
    assert app.health == "healthy"
    # saved before pins existed: pinned by its first passing check (trust on first use)
    assert (app.pinned_registry_origin, app.pinned_realm_origin) == (hostile.url, hostile.url)

    other = ThreadedHttpServer(lambda r: token_answer(r, hostile.authorization), host="127.0.0.3")
    other.start()
    try:
        hostile.realm = f"{other.url}/token"
        hostile.override = None
        await _make_due(rt)
        await rechecker(rt).run_due()
    finally:
        other.stop()
    found = await rows(rt)
    assert found["team/app"].last_error_kind == "origin_changed"
    assert found["team/app"].pinned_realm_origin == hostile.url, "a refusal never re-pins"
    # The entries whose checks never got past the ping were never pinned: their first
    # passing authentication is their first use.  The pinned one never sent its password.
    assert not any("team%2Fapp" in r.target for r in other.requests)


async def _make_due(rt: Runtime) -> None:
    async with transaction(rt.sessions) as session:
        await session.execute(update(ImageRepository).values(next_check_at=utcnow()))

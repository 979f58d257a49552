"""The scheduled re-check keeps the outbound rule (issue 18, finding 2): with no user action,
a pinned GitLab entry whose token realm (and so GitLab's API) moved to another host is
recorded as `origin_changed`, and the saved token never reaches that host: neither the
API's `PRIVATE-TOKEN` (`GET /api/v4/personal_access_tokens/self`) nor the realm's Basic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from bot.recheck import RecheckConfig, Rechecker
from bot.runtime import Runtime
from storage.db import transaction
from storage.models import ImageRepository
from tests.bot.recheck import seed
from tests.support.hostile_registry import HostileRegistry, gitlab_api, received_secret

USER, SECRET = "ci", "glpat-recheck-outbound"


@pytest.fixture
def gitlabs() -> Iterator[tuple[HostileRegistry, HostileRegistry]]:
    """The GitLab the entry was saved for (127.0.0.2) and the host its realm moved to."""
    saved = HostileRegistry(host="127.0.0.2", username=USER, secret=SECRET)
    moved = HostileRegistry(host="127.0.0.3", username=USER, secret=SECRET)
    for server in (saved, moved):
        server.override = gitlab_api(server, SECRET)
        server.start()
    try:
        yield saved, moved
    finally:
        saved.stop()
        moved.stop()


async def test_the_scheduled_recheck_sends_no_token_to_a_moved_gitlab(
    real_runtime: Runtime, gitlabs: tuple[HostileRegistry, HostileRegistry]
) -> None:
    rt = real_runtime
    saved, moved = gitlabs
    saved.realm = f"{moved.url}/jwt/auth"
    project_id = await seed.project(rt.sessions)
    [row_id] = await seed.repositories(
        rt.sessions,
        rt.box,
        project_id=project_id,
        registry_url=saved.url,
        count=1,
        repository="team/app/api",
        username=USER,
        secret=SECRET,
        registry_type="gitlab",
    )
    async with transaction(rt.sessions) as session:
        await session.execute(
            update(ImageRepository)
            .where(ImageRepository.id == row_id)
            .values(pinned_registry_origin=saved.url, pinned_realm_origin=saved.url)
        )

    checker = Rechecker(rt, RecheckConfig.from_settings(rt.settings, env={}), owner="outbound")
    stats = await checker.run_due()

    assert stats.recorded == 1 and stats.errors == 0
    async with rt.sessions() as session:
        row = await session.scalar(select(ImageRepository).where(ImageRepository.id == row_id))
    assert row is not None and row.last_error_kind == "origin_changed"
    assert row.pinned_realm_origin == saved.url, "a refusal never re-pins"
    assert received_secret(moved.requests, USER, SECRET) == []

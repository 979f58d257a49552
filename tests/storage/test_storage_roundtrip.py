"""Storage round trips on SQLite and the real PostgreSQL (each test runs on both)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import projects, repositories, tools
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.errors import DuplicateError
from storage.models import ConnectionCheck, ImageRepository
from storage.repositories import NewRepository

SECRET = "s3cret-Pa55word-for-roundtrip"


async def _project(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        project = await projects.create(
            session, team_id="T1", channel_id="C1", name="payments", created_by="U1"
        )
    return project.id


def _new(project_id: int, **overrides: object) -> NewRepository:
    values: dict[str, object] = {
        "project_id": project_id,
        "access": RepositoryAccess.APP,
        "registry_type": "registry",
        "registry_url": "https://registry.example.com",
        "repository": "team/api",
        "added_by": "U1",
        "account": EnteredAccount("ci-bot", SECRET),
    }
    values.update(overrides)
    return NewRepository(**values)  # type: ignore[arg-type]


async def test_project_creator_is_its_first_admin(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    project_id = await _project(sessions)
    async with sessions() as session:
        found = await projects.get_by_channel(session, "T1", "C1")
        assert found is not None and found.id == project_id and found.name == "payments"
        assert await projects.admin_ids(session, project_id) == ["U1"]
        assert await projects.is_admin(session, project_id, "U2") is False


async def test_second_project_in_a_channel_is_refused_in_words(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _project(sessions)
    with pytest.raises(DuplicateError, match="already has a project"):
        async with transaction(sessions) as session:
            await projects.create(
                session, team_id="T1", channel_id="C1", name="other", created_by="U2"
            )


async def test_repository_round_trip_keeps_the_secret_only_encrypted(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        saved = await repositories.add(session, box, _new(project_id))
    async with sessions() as session:
        row = await repositories.get(session, saved.id, project_id=project_id)
        assert (row.registry_url, row.repository, row.username) == (
            "https://registry.example.com",
            "team/api",
            "ci-bot",
        )
        assert row.access == "app" and row.health == "unknown"
        assert row.added_at.tzinfo is not None
        assert repositories.secret_of(box, row) == SECRET
        raw = (
            await session.execute(text("SELECT secret_ciphertext FROM image_repositories"))
        ).scalar()
        assert raw and SECRET not in raw
        rows, total = await repositories.list_page(session, project_id, offset=0, limit=20)
        assert total == 1 and [r.id for r in rows] == [saved.id]


async def test_same_url_repository_and_kind_twice_is_a_clear_error(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        await repositories.add(session, box, _new(project_id))
    with pytest.raises(DuplicateError, match="already in this project's list as an app repository"):
        async with transaction(sessions) as session:
            await repositories.add(session, box, _new(project_id))
    # The same repository as pull-only is a different entry and is allowed.
    async with transaction(sessions) as session:
        await repositories.add(session, box, _new(project_id, access=RepositoryAccess.PULL_ONLY))
    async with sessions() as session:
        count = len(list(await session.scalars(select(ImageRepository))))
    assert count == 2


async def test_changed_credentials_replace_the_old_secret(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        saved = await repositories.add(session, box, _new(project_id))
    async with transaction(sessions) as session:
        row = await repositories.get(session, saved.id)
        repositories.set_credentials(box, row, username="new-user", secret="brand-new-token")
    async with sessions() as session:
        row = await repositories.get(session, saved.id)
        assert row.username == "new-user"
        assert repositories.secret_of(box, row) == "brand-new-token"


async def test_check_history_is_recorded_newest_first(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        saved = await repositories.add(session, box, _new(project_id))
    for ok, kind in ((True, None), (False, "timeout")):
        async with transaction(sessions) as session:
            row = await repositories.get(session, saved.id)
            check = ConnectionCheck(
                ok=ok,
                error_kind=kind,
                message="ok" if ok else "timed out",
                latency_ms=12.5,
                trigger="manual",
            )
            await repositories.record_check(session, row, check)
    async with sessions() as session:
        checks = await repositories.history(session, saved.id)
        row = await repositories.get(session, saved.id)
    assert [c.ok for c in checks] == [False, True]
    assert row.last_error_kind == "timeout" and row.last_checked_at is not None


async def test_deleting_a_project_deletes_its_repositories(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        await repositories.add(session, box, _new(project_id))
    async with transaction(sessions) as session:
        project = await projects.get_by_channel(session, "T1", "C1")
        await session.delete(project)
    async with sessions() as session:
        assert list(await session.scalars(select(ImageRepository))) == []


async def test_a_tool_in_use_cannot_be_removed(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        tool = await tools.add(
            session,
            box,
            team_id="T1",
            name="harbor-prod",
            url="https://harbor.example.com",
            account=EnteredAccount("admin", "Harbor12345"),
            created_by="U1",
        )
        await repositories.add(
            session, box, _new(project_id, registry_type="harbor", tool_id=tool.id)
        )
    with pytest.raises(DuplicateError, match="used by 1 saved repository"):
        async with transaction(sessions) as session:
            row = await tools.get(session, tool.id, team_id="T1")
            await tools.remove(session, row)
    async with sessions() as session:
        assert [t.name for t in await tools.list_for_team(session, "T1")] == ["harbor-prod"]


async def test_each_tools_users_are_counted_in_one_query(
    sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    """The tools list shows how many entries use each tool (none: 0, not missing)."""
    project_id = await _project(sessions)
    async with transaction(sessions) as session:
        used, unused = [
            await tools.add(
                session,
                box,
                team_id="T1",
                name=name,
                url=f"https://{name}.example.com",
                account=EnteredAccount("admin", "Harbor12345"),
                created_by="U1",
            )
            for name in ("harbor-used", "harbor-unused")
        ]
        for repository in ("team/api", "team/web"):
            await repositories.add(
                session,
                box,
                _new(project_id, registry_type="harbor", tool_id=used.id, repository=repository),
            )
        await repositories.add(session, box, _new(project_id, repository="team/own"))
    async with sessions() as session:
        counts = await tools.users_by_tool(session, [used.id, unused.id])
        assert counts == {used.id: 2, unused.id: 0}
        assert await tools.users_of(session, used.id) == 2
        assert await tools.users_by_tool(session, []) == {}

"""Origin pins of saved entries (issue 11, finding 7), through the use cases and a database.

Save pins the registry and token-service origins the Connection Test found; a
later test of the saved entry refuses another origin (recorded as
`origin_changed`) without sending the password there; a new account re-pins;
an entry saved before pins existed is pinned on its next passing test; editing a
Harbor tool's URL never carries the entries' passwords to the new URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import Runtime
from bot.usecases import repositories as repo_usecases
from bot.usecases import tools as tool_usecases
from bot.usecases.actor import Actor
from bot.usecases.forms import RepositoryForm
from bot.usecases.permissions import Place
from bot.usecases.projects import create_project
from registry import ErrorKind, origin_of
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.models import ConnectionCheck, ImageRepository
from tests.support.harbor_standin import HarborStandIn
from tests.support.hostile_registry import HostileRegistry, token_answer
from tests.support.registry_httpserver import ThreadedHttpServer

SECRET = "pinned-s3cret-pass"
ADMIN = Actor("T1", "UADMIN", is_workspace_admin=True)
HERE = Place.channel("C1")


@pytest.fixture
async def rt(rt: Runtime) -> Runtime:
    """The package's runtime (conftest.py), with this module's project in C1."""
    await create_project(rt, ADMIN, channel_id="C1", name="pins")
    return rt


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username="dana", secret=SECRET) as registry:
        yield registry


async def pins_of(
    sessions: async_sessionmaker[AsyncSession], row_id: int
) -> tuple[str | None, ...]:
    async with sessions() as session:
        row = await session.get(ImageRepository, row_id)
        assert row is not None
        return (row.pinned_registry_origin, row.pinned_realm_origin)


async def unpin(sessions: async_sessionmaker[AsyncSession], row_id: int) -> None:
    """As an entry saved before migration 0002 looks."""
    async with transaction(sessions) as session:
        await session.execute(
            update(ImageRepository)
            .where(ImageRepository.id == row_id)
            .values(pinned_registry_origin=None, pinned_realm_origin=None)
        )


async def test_saved_entries_are_pinned_refuse_a_new_realm_and_re_pin_on_a_new_account(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], hostile: HostileRegistry
) -> None:
    other = ThreadedHttpServer(lambda r: token_answer(r, hostile.authorization), host="127.0.0.3")
    other.start()
    try:
        saved = await repo_usecases.save_repository(
            rt,
            ADMIN,
            channel_id="C1",
            form=RepositoryForm(
                access=RepositoryAccess.PULL_ONLY,
                registry_type="registry",
                repository="team/app",
                registry_url=hostile.url,
                username="dana",
                secret=SECRET,
            ),
        )
        row_id = saved.repository.id
        assert await pins_of(sessions, row_id) == (hostile.url, hostile.url)

        hostile.realm = f"{other.url}/token"
        refused = await repo_usecases.test_saved(rt, ADMIN, HERE, row_id)
        assert refused.error_kind is ErrorKind.ORIGIN_CHANGED
        assert "enter the password again" in refused.message
        assert other.requests == [], "the saved password never reaches the new realm"
        async with sessions() as session:
            check = await session.scalar(
                select(ConnectionCheck).order_by(ConnectionCheck.id.desc()).limit(1)
            )
            assert check is not None and check.error_kind == "origin_changed"

        changed = await repo_usecases.change_account(
            rt, ADMIN, HERE, row_id, username="dana", secret=SECRET
        )
        assert changed.ok, changed.message
        assert await pins_of(sessions, row_id) == (hostile.url, other.url)

        await unpin(sessions, row_id)  # trust on first use for entries saved before pins
        first = await repo_usecases.test_saved(rt, ADMIN, HERE, row_id)
        assert first.ok, first.message
        assert await pins_of(sessions, row_id) == (hostile.url, other.url)
    finally:
        other.stop()


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "saved-before-pins"])
async def test_editing_a_tools_url_never_sends_the_entries_passwords_to_the_new_url(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], pinned: bool
) -> None:
    old, new = HarborStandIn(), HarborStandIn()
    old.start()
    new.start()
    try:
        tool = await tool_usecases.register_tool(
            rt,
            ADMIN,
            tool_usecases.ToolForm(
                name="harbor", url=old.url, username="admin", secret="Harbor12345"
            ),
        )
        saved = await repo_usecases.save_repository(
            rt,
            ADMIN,
            channel_id="C1",
            form=RepositoryForm(
                access=RepositoryAccess.PULL_ONLY,
                registry_type="harbor",
                repository="apps/web",
                tool_id=tool.id,
                username="maint",
                secret="maint-pass-1",
            ),
        )
        row_id = saved.repository.id
        assert (await pins_of(sessions, row_id))[0] == origin_of(old.url)
        if not pinned:
            await unpin(sessions, row_id)

        await tool_usecases.update_tool(
            rt,
            ADMIN,
            tool.id,
            tool_usecases.ToolForm(
                name="harbor", url=new.url, username="admin", secret="Harbor12345"
            ),
        )
        tool_requests = len(new.requests)
        result = await repo_usecases.test_saved(rt, ADMIN, HERE, row_id)
        assert result.error_kind is ErrorKind.ORIGIN_CHANGED, result.message
        assert f"saved for the registry at {origin_of(old.url)}" in result.message
        assert len(new.requests) == tool_requests, "no request of the entry reached the new URL"

        changed = await repo_usecases.change_account(
            rt, ADMIN, HERE, row_id, username="maint", secret="maint-pass-1"
        )
        assert changed.ok, changed.message
        assert (await pins_of(sessions, row_id))[0] == origin_of(new.url)
    finally:
        old.stop()
        new.stop()

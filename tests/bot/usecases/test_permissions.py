"""Who may do what (bot.usecases.permissions), as tables, and the use cases that must ask it:
the tool test and Harbor's Create new (finding 6), entries and pages seen only from their
own channel or a Home that lists them (finding 5), a passing test that expires (finding 14).
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from bot.runtime import Runtime
from bot.settings import Settings
from bot.usecases import home, permissions, projects, repositories, tools
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, NotFound, PermissionDenied
from bot.usecases.forms import Creation, Field, RepositoryForm
from bot.usecases.permissions import EntryAction, EntryRights, Place, ProjectAction
from bot.usecases.repositories import PassedTest
from storage import repositories as stored
from storage.accounts import EnteredAccount
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.repositories import NewRepository
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer

TEAM = "T1"
ADDER, MEMBER, ADMIN, WS_ADMIN = "UADDER", "UMEMBER", "UPADMIN", "UWSADMIN"
USER, PASSWORD = next(iter(HTPASSWD_USERS.items()))


def actor(user: str) -> Actor:
    return Actor(TEAM, user, is_workspace_admin=user == WS_ADMIN)


@pytest.mark.parametrize(
    ("user", "project_admin", "expected"),
    [
        # who            admin of the project   test   account  delete
        (MEMBER, False, EntryRights(True, False, False)),
        (ADDER, False, EntryRights(True, True, False)),
        (ADMIN, True, EntryRights(True, True, True)),
        (WS_ADMIN, True, EntryRights(True, True, True)),
    ],
)
def test_entry_rights_table(user: str, project_admin: bool, expected: EntryRights) -> None:
    assert (
        permissions.entry_rights(actor(user), project_admin=project_admin, added_by=ADDER)
        == expected
    )


@pytest.mark.parametrize(
    ("action", "sentence"),
    [
        (EntryAction.DELETE, "Only this project's admins (or workspace admins) can delete"),
        (EntryAction.CHANGE_ACCOUNT, "Only this project's admins or the person who added"),
    ],
)
def test_each_refusal_has_one_sentence(action: EntryAction, sentence: str) -> None:
    with pytest.raises(PermissionDenied) as info:
        permissions.require_entry(EntryRights(True, False, False), action)
    assert info.value.message.startswith(sentence)
    assert permissions.refusal(ProjectAction.SAVE_FAILING).startswith(
        "Only this project's admins (or workspace admins) can save a repository whose test fails."
    )


@pytest.mark.parametrize(("user", "allowed"), [(MEMBER, False), (ADMIN, False), (WS_ADMIN, True)])
def test_tools_and_their_account_are_for_workspace_admins(user: str, allowed: bool) -> None:
    assert permissions.may_manage_tools(actor(user)) is allowed
    assert permissions.may_create_with_tool_account(actor(user)) is allowed


@pytest.fixture
async def rt(migrated_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(
        Settings(
            database_url=migrated_url,
            secret_keys=(Fernet.generate_key().decode(),),
            allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        )
    )
    try:
        yield runtime
    finally:
        await runtime.aclose()


async def seed(rt: Runtime, channel: str, name: str, url: str = "http://127.0.0.1:9") -> int:
    """A project (ADMIN its admin) with one entry added by ADDER; returns the entry's id."""
    await projects.create_project(rt, actor(ADMIN), channel_id=channel, name=name)
    async with transaction(rt.sessions) as session:
        project = await projects.load_project(session, TEAM, channel)
        row = await stored.add(
            session,
            rt.box,
            NewRepository(
                project_id=project.id,
                access=RepositoryAccess.APP,
                registry_type="registry",
                registry_url=url,
                repository=f"{name}/app",
                added_by=ADDER,
                account=EnteredAccount(USER, PASSWORD),
            ),
        )
        await session.flush()
        return int(row.id)


@pytest.mark.parametrize(
    ("user", "place", "sees"),
    [
        (MEMBER, Place.channel("CA"), True),  # anyone in the entry's own channel
        (MEMBER, Place.channel("CB"), False),  # another channel's id
        (WS_ADMIN, Place.channel("CB"), False),  # even a workspace admin: wrong channel
        (MEMBER, Place.home(), False),  # Home of someone with no tie to the project
        (ADDER, Place.home(), True),
        (ADMIN, Place.home(), True),
        (WS_ADMIN, Place.home(), True),
    ],
)
async def test_an_entry_is_seen_only_from_its_channel_or_a_home_that_lists_it(
    rt: Runtime, user: str, place: Place, sees: bool
) -> None:
    entry = await seed(rt, "CA", "alpha")
    await seed(rt, "CB", "beta")
    project_a = (await projects.get_project(rt, team_id=TEAM, channel_id="CA")).id
    if sees:
        row = await repositories.get_repository(rt, actor(user), place, entry)
        assert row.repository == "alpha/app"
        _, page = await home.project_page(rt, actor(user), place, project_a)
        assert [r.repository for r in page.rows] == ["alpha/app"]
        return
    with pytest.raises(NotFound, match="no longer in this project's list"):
        await repositories.get_repository(rt, actor(user), place, entry)
    with pytest.raises(NotFound, match="no longer in this project's list"):
        await repositories.test_saved(rt, actor(user), place, entry)
    with pytest.raises(NotFound, match="That project no longer exists"):
        await home.project_page(rt, actor(user), place, project_a)
    with pytest.raises(NotFound):
        await repositories.delete_repository(rt, actor(user), place, entry, also_in_registry=False)
    async with rt.sessions() as session:
        assert await stored.history(session, entry) == []  # no test was recorded


async def test_rows_of_a_page_carry_the_users_rights(rt: Runtime) -> None:
    entry = await seed(rt, "CA", "alpha")
    for user, expected in [
        (MEMBER, EntryRights(True, False, False)),
        (ADDER, EntryRights(True, True, False)),
        (ADMIN, EntryRights(True, True, True)),
    ]:
        page = await repositories.list_repositories(rt, actor(user), channel_id="CA")
        assert page.rights_of(entry) == expected
    with pytest.raises(PermissionDenied, match="Only this project's admins"):
        await repositories.entry_for(
            rt, actor(MEMBER), Place.channel("CA"), entry, EntryAction.DELETE
        )


async def test_a_plain_member_cannot_test_a_tool_with_its_admin_account(rt: Runtime) -> None:
    async with transaction(rt.sessions) as session:
        from storage import tools as stored_tools

        row = await stored_tools.add(
            session,
            rt.box,
            team_id=TEAM,
            name="harbor",
            url="http://127.0.0.1:9",
            account=EnteredAccount("admin", "Harbor12345"),
            created_by=WS_ADMIN,
        )
        await session.flush()
        tool_id = int(row.id)
    with pytest.raises(PermissionDenied, match="Only workspace admins and owners"):
        await tools.test_tool(rt, actor(MEMBER), tool_id)
    result = await tools.test_tool(rt, actor(WS_ADMIN), tool_id)  # runs (nothing listens)
    assert not result.ok


def harbor_new(tool_id: int, **values: object) -> RepositoryForm:
    form = RepositoryForm(
        access=RepositoryAccess.APP,
        registry_type="harbor",
        repository="team/app",
        creation=Creation.NEW,
        tool_id=tool_id,
    )
    return replace(form, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("user", "username", "refused"),
    [(MEMBER, None, True), (MEMBER, "dev", False), (WS_ADMIN, None, False)],
)
def test_creating_in_harbor_with_the_tools_account_is_for_workspace_admins(
    rt: Runtime, user: str, username: str | None, refused: bool
) -> None:
    form = harbor_new(1, username=username, secret="pw" if username else None)
    if not refused:
        assert repositories.check_form(rt, actor(user), form).creation is Creation.NEW
        return
    with pytest.raises(InvalidInput) as info:
        repositories.check_form(rt, actor(user), form)
    assert "enter your Harbor username" in info.value.errors[Field.USERNAME]


async def test_a_passing_test_lets_save_skip_it_for_15_minutes_only(
    rt: Runtime, htpasswd_registry: RegistryServer
) -> None:
    await projects.create_project(rt, actor(ADMIN), channel_id="CTTL", name="ttl")
    htpasswd_registry.client(USER, PASSWORD).push_image("ttl/fresh")
    htpasswd_registry.client(USER, PASSWORD).push_image("ttl/stale")
    now = 1_800_000_000.0
    rt.clock = lambda: now
    for repository, age, retested in [("ttl/fresh", 14 * 60, False), ("ttl/stale", 16 * 60, True)]:
        form = RepositoryForm(
            access=RepositoryAccess.APP,
            registry_type="registry",
            registry_url=htpasswd_registry.url,
            repository=repository,
            username=USER,
            secret=PASSWORD,
        )
        assert (await repositories.test_form(rt, actor(ADMIN), form)).ok
        passed = PassedTest(repositories.form_fingerprint(rt, form), now - age)
        assert repositories.passed_recently(rt, form, passed) is not retested
        outcome = await repositories.save_repository(
            rt, actor(ADMIN), channel_id="CTTL", form=form, passed=passed
        )
        # A re-test shows its steps; a shortcut says "the test you just ran passed".
        assert (outcome.result is not None) is retested

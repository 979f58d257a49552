"""Who may do what (bot.usecases.permissions), as tables, and the use cases that must ask it:
the tool test and Harbor's Create new (finding 6), entries and pages seen only from their
own channel or a Home that lists them (finding 5), a passing test that expires (finding 14).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.runtime import Runtime
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


async def test_create_new_without_an_own_account_needs_a_grant_even_for_admins(
    rt: Runtime,
) -> None:
    """Create new through a tool with no account of one's own: refused under Username
    (before anything is sent) unless a grant of the modal's project covers the repository;
    being the project's admin, or a workspace admin, is not a grant. Grants are for
    workspace admins only, and one grant lends nothing outside its namespace."""
    await projects.create_project(rt, actor(ADMIN), channel_id="CGR", name="grants")
    async with transaction(rt.sessions) as session:
        from storage import tools as stored_tools

        row = await stored_tools.add(
            session,
            rt.box,
            team_id=TEAM,
            name="harbor-g",
            url="http://127.0.0.1:9",
            account=EnteredAccount("admin", "Harbor12345"),
            created_by=WS_ADMIN,
        )
        await session.flush()
        tool_id = int(row.id)
    form = harbor_new(tool_id)
    for who in (MEMBER, ADMIN, WS_ADMIN):
        with pytest.raises(InvalidInput) as info:
            await repositories.test_form(rt, actor(who), form, channel_id="CGR")
        assert (
            "harbor-g is not granted to this project for team/app"
            in (info.value.errors[Field.USERNAME])
        )
    with pytest.raises(PermissionDenied, match="Only workspace admins"):
        await tools.add_grant(rt, actor(ADMIN), tool_id, project_name="grants", namespace="team")
    with pytest.raises(InvalidInput) as bad:
        await tools.add_grant(rt, actor(WS_ADMIN), tool_id, project_name="nope", namespace="Team A")
    assert set(bad.value.errors) == {tools.GrantField.NAMESPACE}
    with pytest.raises(InvalidInput) as unknown:
        await tools.add_grant(rt, actor(WS_ADMIN), tool_id, project_name="nope", namespace="team")
    assert "No project named 'nope'" in unknown.value.errors[tools.GrantField.PROJECT]
    granted = await tools.add_grant(
        rt, actor(WS_ADMIN), tool_id, project_name="grants", namespace="team/"
    )
    assert [(g.project_name, g.namespace) for g in granted.grants] == [("grants", "team/")]
    # Granted: the test runs with the tool's account (nothing listens there: it fails).
    assert not (await repositories.test_form(rt, actor(MEMBER), form, channel_id="CGR")).ok
    # Outside the namespace: still refused.
    with pytest.raises(InvalidInput):
        await repositories.test_form(
            rt, actor(MEMBER), replace(form, repository="other/app"), channel_id="CGR"
        )
    # Taken back: refused again at once (grants are read at use time).
    after = await tools.remove_grant(rt, actor(WS_ADMIN), tool_id, granted.grants[0].id)
    assert after.grants == ()
    with pytest.raises(InvalidInput):
        await repositories.test_form(rt, actor(MEMBER), form, channel_id="CGR")


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


# -- whose account a request spends: the tool-account rule (issue 18, item 1) ------------


class _Grant:
    """A grant as the rule reads it (storage.models.ToolGrant's two fields)."""

    def __init__(self, tool_id: int, namespace: str) -> None:
        self.tool_id = tool_id
        self.namespace = namespace


@pytest.mark.parametrize(
    ("namespace", "repository", "covered"),
    [
        ("team-a", "team-a/app", True),
        ("team-a/", "team-a/sub/app", True),
        ("team-a", "team-ab/app", False),  # a name boundary, never a bare prefix
        ("team-a", "victim/prod/api", False),
        ("team-*", "team-x/app", True),
        ("team-*", "victim/team-x", False),
        ("group/project", "group/project", True),  # GitLab: the project's root image
        ("group/project", "group/projectx/api", False),
        ("*", "anything/at/all", True),
        ("team-a", "TEAM-A/app", True),  # GitLab paths are case-insensitive
    ],
)
def test_a_granted_namespace_covers_only_its_own_paths(
    namespace: str, repository: str, covered: bool
) -> None:
    assert permissions.covers(namespace, repository) is covered


@pytest.mark.parametrize("bad", ["", "Team A", "team/../victim", "../x", "a//b", "*x", "/abs"])
def test_a_namespace_that_is_no_path_is_refused_where_typed(bad: str) -> None:
    assert permissions.namespace_problem(permissions.normalize_namespace(bad)) is not None


def test_the_tool_account_is_spent_only_inside_a_grant_of_that_tool() -> None:
    grants = [_Grant(1, "team-a"), _Grant(2, "victim")]
    allowed = permissions.tool_account(grants, 1, "team-a/api")  # type: ignore[arg-type]
    assert allowed.granted and allowed.namespace == "team-a"
    # Another tool's grant never lends this tool's account.
    assert not permissions.tool_account(grants, 1, "victim/prod/api").granted  # type: ignore[arg-type]
    assert not permissions.tool_account([], 1, "team-a/api").granted
    assert not permissions.tool_account(grants, None, "team-a/api").granted  # type: ignore[arg-type]


async def test_an_entry_that_relied_on_its_tools_account_needs_one_until_granted(
    rt: Runtime,
) -> None:
    """Entries saved before grants existed (migration 0006 adds none): one through a tool
    with no account of its own is marked in the list and built without the tool's
    account; a grant fixes it at once, and an own account never needed one."""
    await projects.create_project(rt, actor(ADMIN), channel_id="COLD", name="old")
    async with transaction(rt.sessions) as session:
        from storage import tools as stored_tools

        tool = await stored_tools.add(
            session,
            rt.box,
            team_id=TEAM,
            name="gitlab-old",
            url="http://127.0.0.1:9",
            account=EnteredAccount("api-token", "glpat-tool-secret"),
            created_by=WS_ADMIN,
            tool_type="gitlab",
        )
        await session.flush()
        project = await projects.load_project(session, TEAM, "COLD")
        ids = []
        for repository, account in (
            ("victim/prod/api", EnteredAccount(None, None)),
            ("mine/app", EnteredAccount("dev", "glpat-dev")),
        ):
            row = await stored.add(
                session,
                rt.box,
                NewRepository(
                    project_id=project.id,
                    access=RepositoryAccess.APP,
                    registry_type="gitlab",
                    registry_url="http://127.0.0.1:9",
                    repository=repository,
                    added_by=ADDER,
                    account=account,
                    tool_id=tool.id,
                ),
            )
            await session.flush()
            ids.append(row.id)
        tool_id = int(tool.id)

    async def state() -> list[tuple[str | None, bool]]:
        async with rt.sessions() as session:
            rows = [await stored.get(session, i) for i in ids]
            return [
                (
                    repositories.row_view(r).needs_account,
                    repositories.saved_target(rt, r).tool.credentials is not None,  # type: ignore[union-attr]
                )
                for r in rows
            ]

    assert await state() == [(permissions.NEEDS_ACCOUNT, False), (None, False)]
    await tools.add_grant(rt, actor(WS_ADMIN), tool_id, project_name="old", namespace="victim/")
    assert await state() == [(None, True), (None, False)]

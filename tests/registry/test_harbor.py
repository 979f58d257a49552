"""Harbor against the stand-in whose every API request and response is checked against
Harbor's swagger (the `harbor` fixture fails the test on any mismatch)."""

from __future__ import annotations

import httpx
import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegisteredTool,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
    TlsOptions,
)
from tests.support.harbor_standin import (
    ROLE_GUEST,
    ROLE_MAINTAINER,
    ROLE_PROJECT_ADMIN,
    HarborStandIn,
)
from tests.support.registry_httpserver import free_port
from tests.support.registry_server import RegistryServer

ADMIN = Credentials("admin", "Harbor12345")
MAINT = Credentials("maint", "maint-pass-1")
DEV = Credentials("dev", "dev-pass-1")
GUEST = Credentials("guest", "guest-pass-1")
NEWBIE = Credentials("newbie", "newbie-pass-1")
ROBOT = Credentials("robot$ci", "robot-secret-1")

pytestmark = pytest.mark.registry


def tool(harbor: HarborStandIn, credentials: Credentials | None = ADMIN) -> RegisteredTool:
    return RegisteredTool(harbor.url, credentials, TlsOptions())


def repo(
    harbor: HarborStandIn,
    name: str,
    credentials: Credentials | None,
    *,
    pull_only: bool = False,
    tool_credentials: Credentials | None = ADMIN,
) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.HARBOR,
        harbor.url,
        name,
        credentials,
        pull_only,
        tool=tool(harbor, tool_credentials),
    )


# -- registered tool -----------------------------------------------------------


async def test_tool_test_pings_and_logs_in(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    admin = await registry_service.test_tool(tool(harbor))
    assert admin.ok, admin.message
    assert [(s.name, s.ok) for s in admin.steps] == [("reachable", True), ("authenticated", True)]
    assert admin.steps[1].detail == "logged in as admin (system admin)"

    robot = await registry_service.test_tool(tool(harbor, ROBOT))
    assert robot.ok and robot.steps[1].detail == "robot account robot$ci accepted"

    anonymous = await registry_service.test_tool(tool(harbor, None))
    assert anonymous.ok and "public projects only" in anonymous.steps[1].detail

    wrong = await registry_service.test_tool(tool(harbor, Credentials("admin", "nope")))
    assert wrong.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert wrong.message == (
        f"Sign-in failed: Harbor at {harbor.url} rejected the username or password for admin."
    )


async def test_tool_test_on_something_that_is_not_harbor(
    registry_service: RegistryService, htpasswd_registry: RegistryServer
) -> None:
    result = await registry_service.test_tool(
        RegisteredTool(htpasswd_registry.url, ADMIN, TlsOptions())
    )
    assert result.error_kind is ErrorKind.NOT_A_REGISTRY
    assert "No Harbor API v2.0 at" in result.message

    down = await registry_service.test_tool(
        RegisteredTool(f"http://127.0.0.1:{free_port()}", ADMIN)
    )
    assert down.error_kind is ErrorKind.CONNECTION_REFUSED
    assert down.message.startswith("Not reachable: Connection refused by Harbor at")


# -- projects and repositories ----------------------------------------------------


async def test_project_and_repository_lists(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    assert await registry_service.list_namespaces(tool(harbor)) == ["apps", "ci", "library"]
    assert await registry_service.list_namespaces(tool(harbor, DEV)) == ["apps", "library"]
    assert await registry_service.list_namespaces(tool(harbor), "app") == ["apps"]
    for index in range(120):
        harbor.add_project(f"bulk{index:03d}")
    assert len(await registry_service.list_namespaces(tool(harbor))) == 100
    assert await registry_service.list_repositories(tool(harbor), "apps") == [
        "apps/tools/builder",
        "apps/web",
    ]
    with pytest.raises(RegistryError) as caught:
        await registry_service.list_repositories(tool(harbor), "ghost")
    assert caught.value.kind is ErrorKind.REPOSITORY_NOT_FOUND


async def test_create_new_creates_the_project(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    message = await registry_service.create_repository(repo(harbor, "payments/api", MAINT))
    assert message == "Created Harbor project payments; api appears there on first push."
    assert harbor.projects["payments"].members == {"maint": ROLE_PROJECT_ADMIN}
    assert harbor.projects["payments"].public is False

    with pytest.raises(RegistryError) as caught:
        await registry_service.create_repository(repo(harbor, "payments/other", MAINT))
    assert caught.value.kind is ErrorKind.ALREADY_EXISTS
    assert "Harbor project payments already exists" in str(caught.value)
    # the advice ("Use existing repository") is the use case's to give, once
    assert "Use existing" not in str(caught.value)

    with pytest.raises(RegistryError) as bad:
        await registry_service.create_repository(repo(harbor, "bad__name/api", MAINT))
    assert bad.value.kind is ErrorKind.INVALID_REPOSITORY


async def test_create_falls_back_to_the_tool_account_and_adds_the_user(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    harbor.admin_only_create = True
    message = await registry_service.create_repository(repo(harbor, "billing/worker", DEV))
    assert "with the registered tool's account and made dev a Maintainer" in message
    assert harbor.projects["billing"].members["dev"] == ROLE_MAINTAINER

    await registry_service.create_repository(repo(harbor, "mirror/base", GUEST, pull_only=True))
    assert harbor.projects["mirror"].members["guest"] == ROLE_GUEST

    with pytest.raises(RegistryError) as caught:
        await registry_service.create_repository(
            repo(harbor, "blocked/app", DEV, tool_credentials=None)
        )
    assert caught.value.kind is ErrorKind.PERMISSION_DENIED
    assert "user dev may not create project blocked" in str(caught.value)
    assert "blocked" not in harbor.projects

    # the created project really works for the saved user
    result = await registry_service.connection_test(repo(harbor, "billing/worker", DEV))
    assert result.ok, result.message


async def test_cookies_are_never_sent_back(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    await registry_service.test_tool(tool(harbor))
    await registry_service.create_repository(repo(harbor, "fresh/app", MAINT))
    api_requests = [r for r in harbor.requests if r.raw_path.startswith("/api/")]
    assert len(api_requests) >= 3
    assert all("cookie" not in r.headers for r in api_requests)


# -- connection tests ----------------------------------------------------------


async def test_connection_tests_on_harbor(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    developer = await registry_service.connection_test(repo(harbor, "apps/web", DEV))
    assert developer.ok, developer.message
    assert developer.auth_scheme == "bearer"

    guest_push = await registry_service.connection_test(repo(harbor, "apps/web", GUEST))
    assert guest_push.error_kind is ErrorKind.PERMISSION_DENIED
    assert guest_push.message.startswith("Push failed: Permission denied: user guest may not push")

    guest_pull = await registry_service.connection_test(
        repo(harbor, "apps/web", GUEST, pull_only=True)
    )
    assert guest_pull.ok

    outsider = await registry_service.connection_test(
        repo(harbor, "apps/web", NEWBIE, pull_only=True)
    )
    assert outsider.error_kind is ErrorKind.PERMISSION_DENIED

    robot = await registry_service.connection_test(repo(harbor, "ci/runner", ROBOT))
    assert robot.ok, robot.message


async def test_harbor_repository_existence(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    new_app = await registry_service.connection_test(repo(harbor, "apps/new-service", DEV))
    assert new_app.ok, new_app.message
    assert new_app.steps[2].detail == "project apps exists; new-service appears there on first push"

    pull_missing = await registry_service.connection_test(
        repo(harbor, "apps/new-service", DEV, pull_only=True)
    )
    assert pull_missing.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert "has no repository new-service yet" in pull_missing.message

    no_project = await registry_service.connection_test(repo(harbor, "ghost/app", DEV))
    assert no_project.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert no_project.message == "Pull failed: Harbor has no project ghost."


# -- delete in IR ------------------------------------------------------------------


async def test_delete_in_harbor(registry_service: RegistryService, harbor: HarborStandIn) -> None:
    await registry_service.delete_repository(repo(harbor, "apps/tools/builder", MAINT))
    assert "tools/builder" not in harbor.projects["apps"].repositories
    assert (
        "deleteRepository",
        "/api/v2.0/projects/apps/repositories/tools%252Fbuilder",
    ) in harbor.api_calls

    with pytest.raises(RegistryError) as denied:
        await registry_service.delete_repository(repo(harbor, "apps/web", DEV))
    assert denied.value.kind is ErrorKind.PERMISSION_DENIED
    assert "Developer role can push but not delete" in str(denied.value)
    assert "web" in harbor.projects["apps"].repositories

    with pytest.raises(RegistryError) as missing:
        await registry_service.delete_repository(repo(harbor, "apps/tools/builder", MAINT))
    assert missing.value.kind is ErrorKind.REPOSITORY_NOT_FOUND


def test_the_stand_in_catches_requests_that_break_the_swagger(harbor: HarborStandIn) -> None:
    with httpx.Client(base_url=harbor.url) as client:
        client.get("/api/v2.0/projects", params={"page_size": 500})
        client.post(
            "/api/v2.0/projects",
            json={"project_name": "x", "public": "false"},
            auth=("admin", "Harbor12345"),
        )
        client.get("/api/v2.0/nonsense")
    found = list(harbor.violations)
    harbor.violations.clear()  # expected here; the fixture would fail the test otherwise
    assert any("page_size: 500 is greater than the maximum of 100" in v for v in found)
    assert any("'false' is not of type 'boolean'" in v for v in found)
    assert any("not in Harbor's swagger" in v for v in found)


# -- robot expiry (src/server/v2.0/handler/robot.go ListRobot) -----------------------


@pytest.mark.parametrize("prefix", ["robot$", "svc-"])
async def test_project_robot_expiry_is_found_with_any_prefix(
    registry_service: RegistryService, prefix: str
) -> None:
    """A project robot is listed only by `Level=project,ProjectID=N`; its name is
    `<prefix><project>+<name>` with Harbor's configurable prefix.  Its expiry reaches the
    Connection Test result (and so the expiry warnings)."""
    import time
    from datetime import UTC, datetime

    harbor = HarborStandIn(robot_prefix=prefix)
    harbor.start()
    try:
        expires = int(time.time()) + 10 * 86400
        robot = harbor.add_project_robot(
            "apps", "deployer", "Deployer-secret-1", {"pull", "push"}, expires_at=expires
        )
        assert robot.name == f"{prefix}apps+deployer"
        result = await registry_service.connection_test(
            repo(harbor, "apps/web", Credentials(robot.name, "Deployer-secret-1"))
        )
        assert result.ok, result.message
        assert result.credential_expires_at == datetime.fromtimestamp(expires, UTC)
        queries = [t for op, t in harbor.api_calls if op == "ListRobot"]
        assert queries and all("Level%3Dproject" in q or "Level=project" in q for q in queries)
    finally:
        harbor.stop()
    assert not harbor.violations, harbor.violations

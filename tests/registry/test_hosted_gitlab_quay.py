"""GitLab (token realm on the GitLab host) and Quay (robots vs $oauthtoken) against stand-ins
in front of a real registry: failure kinds, create checks, delete through their APIs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegisteredTool,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.certs import TestCA
from tests.support.hosted_standins import GitLabStandIn, QuayStandIn
from tests.support.registry_server import skip_or_fail_without_registry

pytestmark = pytest.mark.registry


@pytest.fixture
def gitlab(registry_ca: TestCA, tmp_path: Path) -> Iterator[GitLabStandIn]:
    skip_or_fail_without_registry()
    with GitLabStandIn(registry_ca, tmp_path).running() as standin:
        yield standin


@pytest.fixture
def quay(registry_ca: TestCA, tmp_path: Path) -> Iterator[QuayStandIn]:
    skip_or_fail_without_registry()
    with QuayStandIn(registry_ca, tmp_path).running() as standin:
        yield standin


def gl(gitlab: GitLabStandIn, repo: str, who: str, *, pull_only: bool = False) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.GITLAB,
        gitlab.registry_url,
        repo,
        Credentials(*gitlab.credentials(who)),
        pull_only,
    )


def qy(
    quay: QuayStandIn, repo: str, creds: tuple[str, str], *, pull_only: bool = False
) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.QUAY, quay.registry_url, repo, Credentials(*creds), pull_only
    )


async def test_gitlab_passes_with_realm_on_the_gitlab_host(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    gitlab.add_project("team/app")
    gitlab.add_image("team/app", "api")
    result = await registry_service.connection_test(gl(gitlab, "team/app/api", "dev"))
    assert result.ok, result.message
    assert result.credential_expires_at == datetime(2026, 12, 24, tzinfo=UTC)
    assert "delete in IR needs api" in result.steps[1].detail
    assert any(r.raw_path == "/jwt/auth" for r in gitlab.api.requests)
    assert gitlab.api_url != gitlab.registry_url


async def test_gitlab_failure_kinds(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    gitlab.add_project("team/app")
    gitlab.add_image("team/app")
    wrong = RepositoryTarget(
        RegistryType.GITLAB, gitlab.registry_url, "team/app", Credentials("dev", "glpat-x"), True
    )
    result = await registry_service.connection_test(wrong)
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.failed_step is not None and result.failed_step.name == "authenticated"
    ro = await registry_service.connection_test(gl(gitlab, "team/app", "readonly"))
    assert ro.failed_step is not None and ro.failed_step.name == "push"
    assert "write_registry" in ro.message
    missing = await registry_service.connection_test(
        gl(gitlab, "other/none", "maint", pull_only=True)
    )
    assert missing.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert "GitLab has no project" in missing.message
    deploy = await registry_service.connection_test(gl(gitlab, "team/app", gitlab.deploy[0]))
    assert deploy.ok, deploy.message
    assert "deploy token" in deploy.steps[1].detail


async def test_gitlab_create_checks_project_and_role(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    gitlab.add_project("team/app")
    message = await registry_service.create_repository(gl(gitlab, "team/app/new", "dev"))
    assert "team/app exists" in message
    with pytest.raises(RegistryError) as raised:
        await registry_service.create_repository(gl(gitlab, "team/app/new", "readonly"))
    assert "Developer" in raised.value.message
    with pytest.raises(RegistryError) as none:
        await registry_service.create_repository(gl(gitlab, "ghost/app", "dev"))
    assert none.value.kind is ErrorKind.REPOSITORY_NOT_FOUND


async def test_gitlab_delete_and_no_delete_right(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    gitlab.add_project("team/app")
    repo = gitlab.add_image("team/app", "api")
    deploy = gl(gitlab, repo, gitlab.deploy[0])
    assert "deploy token" in (registry_service.delete_blocker(deploy) or "")
    with pytest.raises(RegistryError) as dev:
        await registry_service.delete_repository(gl(gitlab, repo, "dev"))
    assert "api scope" in dev.value.message
    with pytest.raises(RegistryError):
        await registry_service.delete_repository(deploy)
    assert gitlab.tags(repo) == ["latest"]
    await registry_service.delete_repository(gl(gitlab, repo, "maint"))
    assert gitlab.projects["team/app"].repositories == {}
    assert gitlab.tags(repo) in (None, [])


async def test_quay_robot_tests_but_cannot_delete(
    registry_service: RegistryService, quay: QuayStandIn
) -> None:
    quay.add_repository("acme/app")
    robot = qy(quay, "acme/app", quay.robot)
    result = await registry_service.connection_test(robot)
    assert result.ok, result.message
    assert "robot account acme+ci" in result.steps[1].detail
    assert "robot" in (registry_service.delete_blocker(robot) or "")
    with pytest.raises(RegistryError) as raised:
        await registry_service.delete_repository(robot)
    assert raised.value.kind is ErrorKind.PERMISSION_DENIED
    assert quay.tags("acme/app") == ["latest"]
    wrong = await registry_service.connection_test(qy(quay, "acme/app", ("acme+ci", "nope")))
    assert wrong.error_kind is ErrorKind.AUTHENTICATION_FAILED


async def test_quay_oauth_token_creates_finds_missing_and_deletes(
    registry_service: RegistryService, quay: QuayStandIn
) -> None:
    admin = ("$oauthtoken", quay.admin_token)
    message = await registry_service.create_repository(qy(quay, "acme/new", admin))
    assert "Created the Quay repository acme/new" in message
    with pytest.raises(RegistryError) as again:
        await registry_service.create_repository(qy(quay, "acme/new", admin))
    assert again.value.kind is ErrorKind.ALREADY_EXISTS
    missing = await registry_service.connection_test(qy(quay, "acme/ghost", admin, pull_only=True))
    assert missing.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    quay.add_repository("acme/app")
    await registry_service.delete_repository(qy(quay, "acme/app", admin))
    assert "acme/app" not in quay.repositories
    assert quay.tags("acme/app") in (None, [])


async def test_registered_gitlab_and_quay_tools(
    registry_service: RegistryService, gitlab: GitLabStandIn, quay: QuayStandIn
) -> None:
    gl_tool = RegisteredTool(
        gitlab.api_url, Credentials(*gitlab.credentials("maint")), kind=RegistryType.GITLAB
    )
    tested = await registry_service.test_tool(gl_tool)
    assert tested.ok, tested.message
    assert "GitLab Container Registry at" in tested.message
    weak = RegisteredTool(
        gitlab.api_url, Credentials(*gitlab.credentials("dev")), kind=RegistryType.GITLAB
    )
    refused = await registry_service.test_tool(weak)
    assert refused.error_kind is ErrorKind.PERMISSION_DENIED and "api scope" in refused.message

    # With the tool, a deploy-token entry can be created and deleted through the tool's token.
    gitlab.add_project("team/app")
    repo = gitlab.add_image("team/app", "web")
    entry = dataclasses.replace(gl(gitlab, repo, gitlab.deploy[0]), tool=gl_tool)
    assert registry_service.delete_blocker(entry) is None
    await registry_service.delete_repository(entry)
    assert gitlab.tags(repo) in (None, [])

    q_tool = RegisteredTool(
        quay.api_url, Credentials("$oauthtoken", quay.admin_token), kind=RegistryType.QUAY
    )
    assert (await registry_service.test_tool(q_tool)).ok
    robot_tool = RegisteredTool(quay.api_url, Credentials(*quay.robot), kind=RegistryType.QUAY)
    robot_result = await registry_service.test_tool(robot_tool)
    assert robot_result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert "robot" in robot_result.message
    robot_entry = dataclasses.replace(qy(quay, "acme/made", quay.robot), tool=q_tool)
    created = await registry_service.create_repository(robot_entry)
    assert "acme/made" in created and "acme/made" in quay.repositories
    await registry_service.delete_repository(robot_entry)
    assert "acme/made" not in quay.repositories


async def test_gitlab_read_api_token_may_pull(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    """read_api grants read_container_image (gitlabhq lib/gitlab/auth.rb): the pull step
    passes and no "lacks read_registry" appears; only push is refused."""
    gitlab.add_project("team/app")
    gitlab.add_image("team/app")
    pull = await registry_service.connection_test(gl(gitlab, "team/app", "readapi", pull_only=True))
    assert pull.ok, pull.message
    assert "read_api" in pull.steps[1].detail
    both = await registry_service.connection_test(gl(gitlab, "team/app", "readapi"))
    assert both.failed_step is not None and both.failed_step.name == "push"
    assert "read_registry" not in both.message


async def test_gitlab_delete_finds_the_repository_on_a_later_page(
    registry_service: RegistryService, gitlab: GitLabStandIn
) -> None:
    """A project with more than 100 registry repositories: the one to delete is on page 2."""
    gitlab.add_project("team/app")
    for n in range(120):
        gitlab.add_repository_record("team/app", f"old{n}")
    repo = gitlab.add_image("team/app", "api")
    await registry_service.delete_repository(gl(gitlab, repo, "maint"))
    assert repo not in gitlab.projects["team/app"].repositories
    assert gitlab.tags(repo) in (None, [])
    pages = [r.arg("page") for r in gitlab.api.requests if r.raw_path.endswith("/repositories")]
    assert pages == ["1", "2"]


async def test_quay_tool_token_without_user_read_passes(
    registry_service: RegistryService, quay: QuayStandIn
) -> None:
    """An OAuth token with only repo:create and repo:admin gets 401 from /api/v1/user/ yet
    creates and deletes: the tool test passes; a wrong token still fails."""
    tool = RegisteredTool(
        quay.api_url, Credentials("$oauthtoken", quay.repo_token), kind=RegistryType.QUAY
    )
    tested = await registry_service.test_tool(tool)
    assert tested.ok, tested.message
    assert "user:read" in tested.steps[-1].detail
    wrong = RegisteredTool(quay.api_url, Credentials("$oauthtoken", "nope"), kind=RegistryType.QUAY)
    refused = await registry_service.test_tool(wrong)
    assert refused.error_kind is ErrorKind.AUTHENTICATION_FAILED


async def test_quay_nested_names_are_created_tested_and_deleted(
    registry_service: RegistryService, quay: QuayStandIn
) -> None:
    """FEATURE_EXTENDED_REPOSITORY_NAMES is on by default: quay.io/acme/team/app is valid."""
    token = ("$oauthtoken", quay.repo_token)
    created = await registry_service.create_repository(qy(quay, "acme/team/app", token))
    assert "acme/team/app" in created and "acme/team/app" in quay.repositories
    result = await registry_service.connection_test(qy(quay, "acme/team/app", token))
    assert result.ok, result.message
    await registry_service.delete_repository(qy(quay, "acme/team/app", token))
    assert "acme/team/app" not in quay.repositories

"""GitHub Container Registry against a GitHub stand-in in front of a real registry: scopes and
expiry from GitHub's API, each failure kind named in GitHub's words, delete via packages API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.certs import TestCA
from tests.support.hosted_standins import GitHubStandIn
from tests.support.registry_server import skip_or_fail_without_registry

pytestmark = pytest.mark.registry


@pytest.fixture
def github(registry_ca: TestCA, tmp_path: Path) -> Iterator[GitHubStandIn]:
    skip_or_fail_without_registry()
    with GitHubStandIn(registry_ca, tmp_path).running() as standin:
        yield standin


@pytest.fixture
async def service(
    registry_config: RegistryConfig, github: GitHubStandIn
) -> AsyncIterator[RegistryService]:
    config = dataclasses.replace(registry_config, github_api_url=github.api_url)
    async with RegistryService(config) as svc:
        yield svc


def ghcr(
    github: GitHubStandIn, repo: str, login: str | None, *, pull_only: bool = False
) -> RepositoryTarget:
    credentials = Credentials(*github.credentials(login)) if login else None
    return RepositoryTarget(RegistryType.GHCR, github.registry_url, repo, credentials, pull_only)


async def test_pull_and_push_pass_with_scopes_and_expiry(
    service: RegistryService, github: GitHubStandIn
) -> None:
    github.add_package("acme/app")
    result = await service.connection_test(ghcr(github, "acme/app", "octo"))
    assert result.ok, result.message
    auth = result.steps[1]
    assert "read:packages" in auth.detail and "delete:packages" in auth.detail
    assert result.credential_expires_at == datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    # as in production, the token realm is another host than the registry
    assert github.realm.split("/token")[0] != github.registry_url


async def test_wrong_token_fails_authenticated_in_githubs_words(
    service: RegistryService, github: GitHubStandIn
) -> None:
    github.add_package("acme/app")
    target = dataclasses.replace(
        ghcr(github, "acme/app", "octo"), credentials=Credentials("octo", "ghp_wrong")
    )
    result = await service.connection_test(target)
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.failed_step is not None and result.failed_step.name == "authenticated"
    assert "Bad credentials" in result.message
    assert "ghp_wrong" not in result.message


async def test_missing_scopes_are_named(service: RegistryService, github: GitHubStandIn) -> None:
    github.add_package("acme/app")
    reader = await service.connection_test(ghcr(github, "acme/app", "reader"))
    assert reader.failed_step is not None and reader.failed_step.name == "push"
    assert "write:packages" in reader.message
    assert reader.error_kind is ErrorKind.PERMISSION_DENIED
    none = await service.connection_test(ghcr(github, "acme/app", "noscope", pull_only=True))
    assert none.failed_step is not None and none.failed_step.name == "pull"
    assert "read:packages" in none.message


async def test_missing_package(service: RegistryService, github: GitHubStandIn) -> None:
    result = await service.connection_test(ghcr(github, "acme/nothing", "octo", pull_only=True))
    assert result.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert "no container package nothing owned by acme" in result.message


async def test_new_app_package_appears_on_first_push(
    service: RegistryService, github: GitHubStandIn
) -> None:
    result = await service.connection_test(ghcr(github, "acme/fresh", "octo"))
    assert result.ok, result.message
    assert "first push" in result.steps[2].detail


async def test_delete_through_the_packages_api(
    service: RegistryService, github: GitHubStandIn
) -> None:
    github.add_package("acme/team/api")
    github.add_package("octo/tool")
    assert github.tags("acme/team/api") == ["latest"]
    await service.delete_repository(ghcr(github, "acme/team/api", "octo"))
    await service.delete_repository(ghcr(github, "octo/tool", "octo"))
    assert "acme/team/api" not in github.packages and "octo/tool" not in github.packages
    assert github.tags("acme/team/api") in (None, [])
    deletes = [r.target for r in github.api.requests if r.method == "DELETE"]
    assert deletes == [
        "/orgs/acme/packages/container/team%2Fapi",
        "/user/packages/container/tool",
    ]


async def test_no_delete_right_removes_nothing(
    service: RegistryService, github: GitHubStandIn
) -> None:
    github.add_package("acme/app")
    with pytest.raises(RegistryError) as raised:
        await service.delete_repository(ghcr(github, "acme/app", "pusher"))
    assert raised.value.kind is ErrorKind.PERMISSION_DENIED
    assert "delete:packages" in raised.value.message
    github.tokens["noscope"].scopes = {"delete:packages", "read:packages"}
    with pytest.raises(RegistryError) as admin_only:
        await service.delete_repository(ghcr(github, "acme/app", "noscope"))
    assert "admin of the package" in admin_only.value.message
    assert "acme/app" in github.packages and github.tags("acme/app") == ["latest"]
    assert service.delete_blocker(ghcr(github, "acme/app", None)) is not None


async def test_delete_needs_read_packages_too(
    service: RegistryService, github: GitHubStandIn
) -> None:
    """GitHub's delete endpoints need read:packages AND delete:packages: a token with only
    delete:packages is told what it lacks, and nothing is sent or deleted."""
    github.add_package("deleter/tool")
    with pytest.raises(RegistryError) as raised:
        await service.delete_repository(ghcr(github, "deleter/tool", "deleter"))
    assert raised.value.kind is ErrorKind.PERMISSION_DENIED
    assert "lacks the read:packages scope" in raised.value.message
    assert "deleter/tool" in github.packages and github.tags("deleter/tool") == ["latest"]
    assert not [r for r in github.api.requests if r.method == "DELETE"]


async def test_package_of_another_user_is_found_and_deleted(
    service: RegistryService, github: GitHubStandIn
) -> None:
    """mona's package, where octo holds the admin role: /users/mona/..., not /orgs/mona/."""
    github.add_package("mona/tool", admins=("octo",))
    result = await service.connection_test(ghcr(github, "mona/tool", "octo"))
    assert result.ok, result.message
    missing = await service.connection_test(ghcr(github, "mona/ghost", "octo", pull_only=True))
    assert missing.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert "owned by mona" in missing.message
    await service.delete_repository(ghcr(github, "mona/tool", "octo"))
    assert "mona/tool" not in github.packages
    assert github.tags("mona/tool") in (None, [])
    deletes = [r.target for r in github.api.requests if r.method == "DELETE"]
    assert deletes == ["/users/mona/packages/container/tool"]


def test_github_enterprise_api_is_derived_from_the_registry_host() -> None:
    """GHES: registry containers.HOST, API https://HOST/api/v3, per entry; ghcr.io keeps the
    configured API (IMAGEREPO_GITHUB_API_URL)."""
    from registry.ghcr import api_base

    configured = "https://api.github.com"
    assert api_base("https://containers.ghe.example", configured) == ("https://ghe.example/api/v3")
    assert api_base("https://containers.ghe.example:8443", configured) == (
        "https://ghe.example:8443/api/v3"
    )
    assert api_base("https://ghcr.io", configured) == configured

"""Docker Hub: the stand-in speaks Hub's token protocol on a real registry, plus the Hub API
and its rate-limit headers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

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
from tests.support.registry_dockerhub import HUB_READER, HUB_USER, DockerHubStandIn

pytestmark = pytest.mark.registry

OWNER = Credentials(*HUB_USER)
READER = Credentials(*HUB_READER)


@pytest.fixture
async def hub_service(
    registry_config: RegistryConfig, dockerhub: DockerHubStandIn
) -> AsyncIterator[RegistryService]:
    config = dataclasses.replace(
        registry_config,
        dockerhub_registry_url=dockerhub.registry_url,
        dockerhub_api_url=dockerhub.api_url,
    )
    async with RegistryService(config) as service:
        yield service


def hub(repo: str, credentials: Credentials | None, *, pull_only: bool = False) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.DOCKER_HUB, "", repo, credentials, pull_only)


async def test_official_images_live_under_library(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    dockerhub.add_repository("library/nginx")
    result = await hub_service.connection_test(hub("nginx", None, pull_only=True))
    assert result.ok, result.message
    assert "library/nginx" in result.message
    scope = dockerhub.token_server.requests[-1].query["scope"]
    assert scope == ["repository:library/nginx:pull"]


async def test_hub_web_names_mean_the_configured_registry(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    dockerhub.add_repository("library/redis")
    for url in ("docker.io", "https://hub.docker.com", ""):
        target = RepositoryTarget(RegistryType.DOCKER_HUB, url, "redis", None, True)
        result = await hub_service.connection_test(target)
        assert result.ok, result.message
        assert dockerhub.registry_url in result.message


async def test_owner_can_push_and_a_read_only_token_cannot(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    dockerhub.add_repository("hubuser/app")
    owner = await hub_service.connection_test(hub("hubuser/app", OWNER))
    assert owner.ok, owner.message

    reader = await hub_service.connection_test(hub("hubuser/app", READER))
    assert [(s.name, s.ok) for s in reader.steps] == [
        ("reachable", True),
        ("authenticated", True),
        ("pull", True),
        ("push", False),
    ]
    assert reader.error_kind is ErrorKind.PERMISSION_DENIED
    assert "read-only account or token" in reader.message

    pull_only = await hub_service.connection_test(hub("hubuser/app", READER, pull_only=True))
    assert pull_only.ok, pull_only.message


async def test_a_missing_repository_is_found_missing_through_the_hub_api(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    result = await hub_service.connection_test(hub("hubuser/ghost", OWNER))
    assert result.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert (
        result.message
        == "Pull failed: Docker Hub has no repository hubuser/ghost that hubuser can see."
    )
    assert any(
        r.raw_path == "/v2/namespaces/hubuser/repositories/ghost" for r in dockerhub.api.requests
    )

    dockerhub.add_repository("hubuser/secret", private=True)
    anonymous = await hub_service.connection_test(hub("hubuser/secret", None, pull_only=True))
    assert anonymous.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    owner = await hub_service.connection_test(hub("hubuser/secret", OWNER, pull_only=True))
    assert owner.ok, owner.message


async def test_wrong_password(hub_service: RegistryService, dockerhub: DockerHubStandIn) -> None:
    result = await hub_service.connection_test(hub("hubuser/app", Credentials("hubuser", "bad")))
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.message.startswith("Sign-in failed: The token service at")


async def test_rate_limits_tell_when_they_reset(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    dockerhub.add_repository("hubuser/app")
    dockerhub.rate_limit(600)
    result = await hub_service.connection_test(hub("hubuser/app", OWNER))
    assert result.error_kind is ErrorKind.RATE_LIMITED
    assert "(100 pulls per 6 h); the limit resets at" in result.message
    assert "(in 10 min)" in result.message

    with pytest.raises(RegistryError) as caught:
        await hub_service.delete_repository(hub("hubuser/app", OWNER))
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert str(caught.value).startswith("Rate limited by Docker Hub; the limit resets at")
    assert "(in 10 min)" in str(caught.value)


async def test_delete_through_the_hub_api(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    dockerhub.add_repository("hubuser/old")
    with pytest.raises(RegistryError) as reader:
        await hub_service.delete_repository(hub("hubuser/old", READER))
    assert reader.value.kind is ErrorKind.PERMISSION_DENIED
    assert "may not delete hubuser/old" in str(reader.value)
    assert "hubuser/old" in dockerhub.repositories

    await hub_service.delete_repository(hub("hubuser/old", OWNER))
    assert "hubuser/old" not in dockerhub.repositories

    with pytest.raises(RegistryError) as missing:
        await hub_service.delete_repository(hub("hubuser/old", OWNER))
    assert missing.value.kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert str(missing.value) == "Docker Hub has no repository hubuser/old."

    with pytest.raises(RegistryError) as official:
        await hub_service.delete_repository(hub("nginx", OWNER))
    assert official.value.kind is ErrorKind.PERMISSION_DENIED
    assert "official Docker Hub image" in str(official.value)

    with pytest.raises(RegistryError) as anonymous:
        await hub_service.delete_repository(hub("hubuser/app", None))
    assert anonymous.value.kind is ErrorKind.AUTHENTICATION_FAILED

    with pytest.raises(RegistryError) as wrong:
        await hub_service.delete_repository(hub("hubuser/app", Credentials("hubuser", "bad")))
    assert wrong.value.kind is ErrorKind.AUTHENTICATION_FAILED
    assert "Docker Hub rejected the username or access token for hubuser" in str(wrong.value)


async def test_connection_test_reads_the_pull_quota_without_spending_a_pull(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    """`ratelimit-limit`/`ratelimit-remaining` from a manifest HEAD, which is not a pull."""
    dockerhub.add_repository("hubuser/app")
    dockerhub.pulls["hubuser"] = 13
    result = await hub_service.connection_test(hub("hubuser/app", OWNER, pull_only=True))
    assert result.ok, result.message
    assert "pulls left: 87 of 100 per 6 h" in result.steps[2].detail
    assert dockerhub.pulls_left("hubuser") == 87  # the test itself spent none
    anonymous = await hub_service.connection_test(hub("hubuser/app", None, pull_only=True))
    assert "pulls left: 100 of 100 per 6 h" in anonymous.steps[2].detail


async def test_create_new_repository_through_the_hub_api(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    """POST /v2/namespaces/{ns}/repositories: created private, then pushable; twice is
    "already exists"; a read-only token is refused and nothing is created."""
    message = await hub_service.create_repository(hub("hubuser/fresh", OWNER))
    assert "Created the Docker Hub repository hubuser/fresh" in message
    assert dockerhub.repositories["hubuser/fresh"].private
    tested = await hub_service.connection_test(hub("hubuser/fresh", OWNER))
    assert tested.ok, tested.message
    with pytest.raises(RegistryError) as again:
        await hub_service.create_repository(hub("hubuser/fresh", OWNER))
    assert again.value.kind is ErrorKind.ALREADY_EXISTS
    with pytest.raises(RegistryError) as reader:
        await hub_service.create_repository(hub("hubuser/other", READER))
    assert reader.value.kind is ErrorKind.PERMISSION_DENIED
    assert "needs write rights on the namespace hubuser" in str(reader.value)
    assert "hubuser/other" not in dockerhub.repositories


async def test_list_row_shows_the_pulls_left_of_the_last_test(
    hub_service: RegistryService, dockerhub: DockerHubStandIn
) -> None:
    """The passed test's summary (stored as the entry's last message) carries the quota, and
    the list row of the healthy entry shows it."""
    from datetime import UTC, datetime

    from bot.usecases.permissions import EntryRights
    from bot.usecases.repositories import RepositoryRow
    from handlers.ui.repository_list import row_blocks
    from storage.enums import RepositoryAccess

    dockerhub.add_repository("hubuser/app")
    dockerhub.pulls["hubuser"] = 98
    result = await hub_service.connection_test(hub("hubuser/app", OWNER, pull_only=True))
    assert result.ok and "pulls left: 2 of 100 per 6 h" in result.message
    stored = RepositoryRow(
        id=1,
        project_id=1,
        access=RepositoryAccess.PULL_ONLY,
        registry_type=RegistryType.DOCKER_HUB,
        type_label="Docker Hub",
        registry_url=dockerhub.registry_url,
        repository="hubuser/app",
        username=OWNER.username,
        tool_name=None,
        added_by="U1",
        health="healthy",
        last_checked_at=datetime.now(UTC),
        last_error_kind=None,
        last_message=result.message,
        can_delete_in_ir=True,
    )
    blocks = row_blocks(stored, EntryRights(True, True, True))
    shown = str([b.to_dict() for b in blocks])
    assert "pulls left: 2 of 100 per 6 h" in shown

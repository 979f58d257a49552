"""Delete in IR on real registries: every manifest by digest, or a clear refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.registry_server import RegistryServer, TokenRegistry

pytestmark = pytest.mark.registry

ALICE = Credentials("alice", "alice-pass-1")


def app(url: str, repo: str, credentials: Credentials | None) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.IMAGE_REGISTRY, url, repo, credentials, False)


async def test_delete_removes_every_manifest(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    client = htpasswd_registry.client("alice", "alice-pass-1")
    first = client.push_image(unique_repo, "v1", salt="one")
    second = client.push_image(unique_repo, "v2", salt="two")
    client.push_image(unique_repo, "latest", salt="two")  # same digest as v2
    assert sorted(client.tags(unique_repo) or []) == ["latest", "v1", "v2"]

    await registry_service.delete_repository(app(htpasswd_registry.url, unique_repo, ALICE))

    assert client.tags(unique_repo) == []
    assert client.manifest_status(unique_repo, first) == 404
    assert client.manifest_status(unique_repo, second) == 404
    result = await registry_service.connection_test(app(htpasswd_registry.url, unique_repo, ALICE))
    assert "no tags yet" in result.steps[2].detail


async def test_deletion_disabled_is_reported_and_nothing_is_deleted(
    registry_service: RegistryService, nodelete_registry: RegistryServer, unique_repo: str
) -> None:
    client = nodelete_registry.client("alice", "alice-pass-1")
    client.push_image(unique_repo, "v1")
    with pytest.raises(RegistryError) as caught:
        await registry_service.delete_repository(app(nodelete_registry.url, unique_repo, ALICE))
    assert caught.value.kind is ErrorKind.DELETE_UNSUPPORTED
    assert str(caught.value) == (
        f"The registry at {nodelete_registry.url} has deletion disabled (HTTP 405 UNSUPPORTED); "
        "nothing was deleted. Its admin must enable storage delete, or remove the entry from "
        "the list only."
    )
    assert client.tags(unique_repo) == ["v1"]


async def test_delete_needs_delete_rights(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    admin = token_registry.client("admin", "admin-pass-1")
    admin.push_image(unique_repo, "v1")
    with pytest.raises(RegistryError) as caught:
        await registry_service.delete_repository(
            app(token_registry.url, unique_repo, Credentials("pusher", "pusher-pass-1"))
        )
    assert caught.value.kind is ErrorKind.PERMISSION_DENIED
    assert str(caught.value) == f"Permission denied: user pusher may not delete in {unique_repo}."
    assert admin.tags(unique_repo) == ["v1"]

    await registry_service.delete_repository(
        app(token_registry.url, unique_repo, Credentials("admin", "admin-pass-1"))
    )
    assert admin.tags(unique_repo) == []


async def test_delete_of_a_missing_repository(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    with pytest.raises(RegistryError) as caught:
        await registry_service.delete_repository(app(htpasswd_registry.url, unique_repo, ALICE))
    assert caught.value.kind is ErrorKind.REPOSITORY_NOT_FOUND


async def test_delete_while_the_registry_is_down(
    registry_service: RegistryService,
    registry_factory: Callable[..., RegistryServer],
    unique_repo: str,
) -> None:
    server = registry_factory(htpasswd={"alice": "alice-pass-1"})
    server.client("alice", "alice-pass-1").push_image(unique_repo)
    server.stop()
    with pytest.raises(RegistryError) as caught:
        await registry_service.delete_repository(app(server.url, unique_repo, ALICE))
    assert caught.value.kind is ErrorKind.CONNECTION_REFUSED
    server.start()
    assert server.client("alice", "alice-pass-1").tags(unique_repo) == ["latest"]


async def test_types_that_cannot_create_say_so(registry_service: RegistryService) -> None:
    for kind in (RegistryType.IMAGE_REGISTRY,):
        with pytest.raises(RegistryError) as caught:
            await registry_service.create_repository(
                RepositoryTarget(kind, "https://r.example", "team/app", ALICE, False)
            )
        assert caught.value.kind is ErrorKind.UNSUPPORTED_OPERATION
        assert "cannot be created here" in str(caught.value)

"""Google Artifact Registry: an access token minted from a service-account key at the
key's own token_uri (a loopback stand-in that checks the JWT signature), used against
a real token-auth registry; the Artifact Registry API for create and delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from registry import (
    Credentials,
    ErrorKind,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.cloud_gar import (
    LOCATION,
    SEED_PASSWORD,
    GarSetup,
    gar,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.registry

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
IMAGE = "acme-prod/docker/api"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def target(
    setup: GarSetup, key: str, repo: str = IMAGE, pull_only: bool = False
) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.GAR, setup.registry.url, repo, Credentials("_json_key", key), pull_only
    )


@pytest.fixture
async def service(registry_config: RegistryConfig, gar: GarSetup) -> RegistryService:  # noqa: F811
    config = RegistryConfig(
        allowed_networks=registry_config.allowed_networks,
        operation_timeout=20.0,
        google_api_url=gar.api_url,
        google_location=LOCATION,
    )
    svc = RegistryService(config)
    svc.minting.clock = Clock()
    yield svc  # type: ignore[misc]
    await svc.aclose()


async def test_token_minted_from_the_key_passes_and_expires_when_it_says(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    gar.registry.client("seed", SEED_PASSWORD).push_image(IMAGE)
    key = gar.google.key_json()

    result = await service.connection_test(target(gar, key))

    assert result.ok, result.message
    assert len(gar.google.minted) == 1
    assert "access token minted for pusher@acme-prod" in result.steps[1].detail
    assert "expires 2026-01-01 13:00 UTC" in result.steps[1].detail
    text = " ".join([result.message, *(s.detail for s in result.steps)])
    assert gar.google.minted[0] not in text and "PRIVATE KEY" not in text


async def test_expired_token_is_minted_again_not_reused(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    gar.registry.client("seed", SEED_PASSWORD).push_image(IMAGE)
    key = gar.google.key_json()
    clock = service.minting.clock
    assert isinstance(clock, Clock)

    assert (await service.connection_test(target(gar, key))).ok
    clock.now = START + timedelta(minutes=47)  # under 80 % of an hour: reused
    assert (await service.connection_test(target(gar, key))).ok
    assert len(gar.google.minted) == 1

    clock.now = START + timedelta(minutes=70)  # past expiry: the old token no longer works
    result = await service.connection_test(target(gar, key))
    assert result.ok, result.message
    assert len(gar.google.minted) == 2


async def test_key_signed_by_another_private_key_is_refused_by_google(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    result = await service.connection_test(target(gar, gar.google.key_json(stranger)))

    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.failed_step is not None and result.failed_step.name == "authenticated"
    assert "Invalid JWT Signature" in result.message
    assert gar.google.rejected_assertions == 1


async def test_not_a_key_is_explained(gar: GarSetup, service: RegistryService) -> None:  # noqa: F811
    result = await service.connection_test(target(gar, "hunter2-not-json"))
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert "service-account JSON key" in result.message
    assert "hunter2" not in result.message


async def test_missing_writer_role_is_named(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    gar.registry.client("seed", SEED_PASSWORD).push_image(IMAGE)
    gar.google.writer = False
    result = await service.connection_test(target(gar, gar.google.key_json()))

    assert not result.ok
    assert result.failed_step is not None and result.failed_step.name == "push"
    assert "artifactregistry.writer" in result.message


async def test_create_and_delete_use_the_artifact_registry_api(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    key = gar.google.key_json()
    message = await service.create_repository(target(gar, key))
    assert "docker" in message
    assert ("acme-prod", LOCATION, "docker") in gar.google.repositories
    with pytest.raises(RegistryError) as twice:
        await service.create_repository(target(gar, key))
    assert twice.value.kind is ErrorKind.ALREADY_EXISTS

    gar.google.packages.add(("acme-prod", LOCATION, "docker", "team/api"))
    await service.delete_repository(target(gar, key, "acme-prod/docker/team/api"))
    assert not gar.google.packages
    with pytest.raises(RegistryError) as gone:
        await service.delete_repository(target(gar, key, "acme-prod/docker/team/api"))
    assert gone.value.kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert len(gar.google.minted) == 1  # one token for all four calls


async def test_create_and_delete_report_the_operations_outcome(
    gar: GarSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    """create and delete answer a long-running Operation: success only once it is done
    without error; done with an error is a failure in Google's words, nothing changed."""
    key = gar.google.key_json()
    gar.google.polls_until_done = 3
    await service.create_repository(target(gar, key))
    assert ("acme-prod", LOCATION, "docker") in gar.google.repositories
    polls = [r for r in gar.google.server.requests if "/operations/" in r.raw_path]
    assert len(polls) == 3

    gar.google.fail_operations = (7, "Permission 'artifactregistry.repositories.create' denied")
    with pytest.raises(RegistryError) as refused:
        await service.create_repository(target(gar, key, "acme-prod/other/api"))
    assert refused.value.kind is ErrorKind.PERMISSION_DENIED
    assert "artifactregistry.repositories.create' denied" in refused.value.message
    assert ("acme-prod", LOCATION, "other") not in gar.google.repositories

    gar.google.packages.add(("acme-prod", LOCATION, "docker", "api"))
    gar.google.fail_operations = (9, "The package is protected by a cleanup policy")
    with pytest.raises(RegistryError) as kept:
        await service.delete_repository(target(gar, key))
    assert "protected by a cleanup policy" in kept.value.message
    assert ("acme-prod", LOCATION, "docker", "api") in gar.google.packages

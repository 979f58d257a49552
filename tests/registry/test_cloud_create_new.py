"""Create new for the cloud types that can create (ECR, GAR): right after creating, the
repository is empty, and the test that Save runs must accept that for an app repository
(images come with the first push) but not for a pull-only one, nor for a repository
the provider does not have."""

from __future__ import annotations

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegistryConfig,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.cloud_ecr import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    EcrStandIn,
    ecr,  # noqa: F401 - the fixture
)
from tests.support.cloud_gar import (
    LOCATION,
    GarSetup,
    gar,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.registry


async def test_ecr_new_empty_repository_passes_only_once_ecr_has_it(
    ecr: EcrStandIn,  # noqa: F811
    registry_config: RegistryConfig,
) -> None:
    config = RegistryConfig(
        allowed_networks=registry_config.allowed_networks, operation_timeout=20.0, aws_region=REGION
    )
    key = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)

    def target(pull_only: bool = False) -> RepositoryTarget:
        return RepositoryTarget(RegistryType.ECR, ecr.registry.url, "new/app", key, pull_only)

    async with RegistryService(config) as service:
        before = await service.connection_test(target())
        assert before.error_kind is ErrorKind.REPOSITORY_NOT_FOUND  # ECR has no such repository

        await service.create_repository(target())
        after = await service.connection_test(target())
        assert after.ok, after.message
        assert "exists and is empty" in after.steps[2].detail
        assert after.steps[3].ok  # push was tested too

        pull_only = await service.connection_test(target(pull_only=True))
        assert pull_only.error_kind is ErrorKind.REPOSITORY_NOT_FOUND  # nothing to pull yet


async def test_gar_new_repository_passes_only_once_the_api_has_it(
    gar: GarSetup,  # noqa: F811
    registry_config: RegistryConfig,
) -> None:
    config = RegistryConfig(
        allowed_networks=registry_config.allowed_networks,
        operation_timeout=20.0,
        google_api_url=gar.api_url,
        google_location=LOCATION,
    )
    key = Credentials("_json_key", gar.google.key_json())

    def target(pull_only: bool = False) -> RepositoryTarget:
        return RepositoryTarget(
            RegistryType.GAR, gar.registry.url, "acme-prod/fresh/api", key, pull_only
        )

    async with RegistryService(config) as service:
        before = await service.connection_test(target())
        assert before.error_kind is ErrorKind.REPOSITORY_NOT_FOUND

        await service.create_repository(target())
        assert ("acme-prod", LOCATION, "fresh") in gar.google.repositories
        after = await service.connection_test(target())
        assert after.ok, after.message
        assert "fresh exists; the image api appears on the first push" in after.steps[2].detail
        assert after.steps[3].ok

        pull_only = await service.connection_test(target(pull_only=True))
        assert pull_only.error_kind is ErrorKind.REPOSITORY_NOT_FOUND

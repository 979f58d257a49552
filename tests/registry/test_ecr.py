"""Amazon ECR against moto (ECR/STS API on loopback) and a real docker-registry whose
htpasswd holds `AWS` and the password moto's GetAuthorizationToken returns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from registry import (
    Credentials,
    ErrorKind,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from registry.ecr import aws_error, ecr_place
from tests.support.cloud_ecr import (
    ACCESS_KEY_ID,
    REGION,
    ROLE_ARN,
    SECRET_ACCESS_KEY,
    EcrStandIn,
    ecr,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.registry

KEY = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
# moto's authorization token expires at 2015-01-01T00:00Z: the test clock starts 12 h before.
START = datetime(2014, 12, 31, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def target(
    stand_in: EcrStandIn, repo: str, credentials: Credentials | None = KEY, pull_only: bool = False
) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.ECR, stand_in.registry.url, repo, credentials, pull_only)


@pytest.fixture
async def service(registry_config: RegistryConfig) -> RegistryService:
    config = RegistryConfig(
        allowed_networks=registry_config.allowed_networks,
        connect_timeout=2.0,
        read_timeout=5.0,
        operation_timeout=20.0,
        aws_region=REGION,
    )
    svc = RegistryService(config)
    svc.minting.clock = Clock()
    yield svc  # type: ignore[misc]
    await svc.aclose()


async def test_connection_test_mints_and_says_when_it_expires(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    ecr.registry.client("AWS", ecr.password).push_image(unique_repo)

    result = await service.connection_test(target(ecr, unique_repo))

    assert result.ok, result.message
    authenticated = result.steps[1]
    assert "ecr:GetAuthorizationToken" in authenticated.detail
    assert "expires 2015-01-01 00:00 UTC" in authenticated.detail
    assert ecr.calls["GetAuthorizationToken"] == 1
    text = " ".join([result.message, *(s.detail for s in result.steps)])
    assert SECRET_ACCESS_KEY not in text and ecr.password not in text


async def test_token_reused_until_80_percent_then_minted_again(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    clock = service.minting.clock
    assert isinstance(clock, Clock)
    ecr.registry.client("AWS", ecr.password).push_image(unique_repo)
    for _ in range(3):
        assert (await service.connection_test(target(ecr, unique_repo))).ok
    assert ecr.calls["GetAuthorizationToken"] == 1  # cached: one mint for three tests

    clock.now = START + timedelta(hours=9, minutes=30)  # 79 % of 12 h
    assert (await service.connection_test(target(ecr, unique_repo))).ok
    assert ecr.calls["GetAuthorizationToken"] == 1

    clock.now = START + timedelta(hours=9, minutes=40)  # past 80 %
    assert (await service.connection_test(target(ecr, unique_repo))).ok
    assert ecr.calls["GetAuthorizationToken"] == 2

    clock.now = START + timedelta(hours=13)  # past expiry: never reused
    assert (await service.connection_test(target(ecr, unique_repo))).ok
    assert ecr.calls["GetAuthorizationToken"] == 3


async def test_many_entries_one_credential_mint_once(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
) -> None:
    targets = [target(ecr, f"team/app-{i}", pull_only=True) for i in range(12)]
    results = await asyncio.gather(*(service.connection_test(t) for t in targets))

    assert all(r.steps[1].ok for r in results)  # authenticated everywhere
    assert ecr.calls["GetAuthorizationToken"] == 1
    assert service.minting.mints == {"ecr": 1}

    other = Credentials("AKIAOTHERKEY0000001", "another-secret-key-000000000000")
    await service.connection_test(target(ecr, "team/app-0", other, pull_only=True))
    assert ecr.calls["GetAuthorizationToken"] == 2  # another credential: its own token


async def test_role_is_assumed_before_minting(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    ecr.registry.client("AWS", ecr.password).push_image(unique_repo)
    with_role = Credentials(f"{ACCESS_KEY_ID} {ROLE_ARN}", SECRET_ACCESS_KEY)
    result = await service.connection_test(target(ecr, unique_repo, with_role))

    assert result.ok, result.message
    assert ecr.calls["AssumeRole"] == 1
    assert f"as {ROLE_ARN}" in result.steps[1].detail


async def test_bad_role_arn_is_a_clear_authentication_failure(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    bad = Credentials(f"{ACCESS_KEY_ID} role/ci", SECRET_ACCESS_KEY)
    result = await service.connection_test(target(ecr, unique_repo, bad))

    assert not result.ok
    assert result.failed_step is not None and result.failed_step.name == "authenticated"
    assert "is not an IAM role ARN" in result.message
    assert ecr.calls.get("GetAuthorizationToken", 0) == 0


async def test_create_and_delete_in_ir_use_the_ecr_api(
    ecr: EcrStandIn,  # noqa: F811
    service: RegistryService,
) -> None:
    message = await service.create_repository(target(ecr, "payments/api"))
    assert "payments/api" in message
    assert "payments/api" in ecr.repositories()

    with pytest.raises(RegistryError) as again:
        await service.create_repository(target(ecr, "payments/api"))
    assert again.value.kind is ErrorKind.ALREADY_EXISTS

    await service.delete_repository(target(ecr, "payments/api"))
    assert "payments/api" not in ecr.repositories()

    with pytest.raises(RegistryError) as gone:
        await service.delete_repository(target(ecr, "payments/api"))
    assert gone.value.kind is ErrorKind.REPOSITORY_NOT_FOUND


async def test_loopback_url_without_region_is_explained(
    ecr: EcrStandIn,  # noqa: F811
    registry_config: RegistryConfig,
    unique_repo: str,
) -> None:
    async with RegistryService(registry_config) as no_region:
        result = await no_region.connection_test(target(ecr, unique_repo))
    assert result.error_kind is ErrorKind.INVALID_URL
    assert "AWS_REGION" in result.message


def test_region_and_account_come_from_the_url() -> None:
    place = ecr_place("123456789012.dkr.ecr.eu-central-1.amazonaws.com", "us-east-1")
    assert (place.region, place.account) == ("eu-central-1", "123456789012")
    assert ecr_place("127.0.0.1", "us-west-2").region == "us-west-2"


def test_access_denied_names_the_action_in_aws_words() -> None:
    denied = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "User: arn:aws:iam::123456789012:user/ci is not authorized to "
                "perform: ecr:GetAuthorizationToken",
            }
        },
        "GetAuthorizationToken",
    )
    error = aws_error(denied, "ecr:GetAuthorizationToken")
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert error.message.startswith("AWS refused ecr:GetAuthorizationToken (AccessDeniedException")

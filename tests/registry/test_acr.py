"""Azure Container Registry: admin user (Basic into the token flow) and a service principal
whose Entra ID token is exchanged at /oauth2/exchange for a refresh token, in front of a
real token-auth registry; delete in IR through DELETE /acr/v1/{repository}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from tests.support.cloud_acr import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    AcrSetup,
    acr,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.registry

SP = Credentials(f"{TENANT}/{CLIENT_ID}", CLIENT_SECRET)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def target(setup: AcrSetup, repo: str, credentials: Credentials) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.ACR, setup.url, repo, credentials, False)


@pytest.fixture
async def service(registry_config: RegistryConfig, acr: AcrSetup) -> RegistryService:  # noqa: F811
    config = RegistryConfig(
        allowed_networks=registry_config.allowed_networks,
        operation_timeout=20.0,
        azure_authority=acr.url,
    )
    svc = RegistryService(config)
    svc.minting.clock = Clock()
    yield svc  # type: ignore[misc]
    await svc.aclose()


async def test_admin_user_goes_straight_into_the_token_flow(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    acr.push(unique_repo)
    result = await service.connection_test(
        target(acr, unique_repo, Credentials(ADMIN_USER, ADMIN_PASSWORD))
    )
    assert result.ok, result.message
    assert acr.front.exchanges == 0 and acr.front.entra_calls == 0


async def test_service_principal_is_exchanged_and_re_minted_after_expiry(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    acr.push(unique_repo)
    clock = service.minting.clock
    assert isinstance(clock, Clock)
    start = clock.now

    result = await service.connection_test(target(acr, unique_repo, SP))
    assert result.ok, result.message
    assert "/oauth2/exchange" in result.steps[1].detail and "expires" in result.steps[1].detail
    assert (acr.front.entra_calls, acr.front.exchanges) == (1, 1)
    text = " ".join([result.message, *(s.detail for s in result.steps)])
    assert CLIENT_SECRET not in text

    clock.now = start + timedelta(hours=2)  # 67 % of 3 h: reused
    assert (await service.connection_test(target(acr, unique_repo, SP))).ok
    assert acr.front.exchanges == 1

    clock.now = start + timedelta(hours=3, minutes=5)  # past expiry: exchanged again
    assert (await service.connection_test(target(acr, unique_repo, SP))).ok
    assert (acr.front.entra_calls, acr.front.exchanges) == (2, 2)


async def test_wrong_client_secret_is_named_in_entra_words(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    wrong = Credentials(SP.username, "not-the-secret-123")
    result = await service.connection_test(target(acr, unique_repo, wrong))
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.failed_step is not None and result.failed_step.name == "authenticated"
    assert "invalid_client: AADSTS7000215" in result.message
    assert "Trace ID" not in result.message


async def test_exchange_refused_is_named(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    acr.front.sp_has_role = False
    result = await service.connection_test(target(acr, unique_repo, SP))
    assert result.error_kind is ErrorKind.PERMISSION_DENIED
    assert "refused the exchange" in result.message and "AcrPull" in result.message


async def test_delete_in_ir_uses_acr_v1(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    acr.push(unique_repo)
    assert acr.tags(unique_repo) == ["latest"]
    await service.delete_repository(target(acr, unique_repo, SP))
    assert acr.tags(unique_repo) == []
    with pytest.raises(RegistryError) as gone:
        await service.delete_repository(target(acr, unique_repo, SP))
    assert gone.value.kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert acr.front.exchanges == 1  # one refresh token for both deletes


async def test_a_refused_secret_is_asked_once_for_many_entries(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
) -> None:
    import asyncio

    wrong = Credentials(SP.username, "revoked-secret-0000")
    targets = [target(acr, f"team/app-{i}", wrong) for i in range(8)]
    results = await asyncio.gather(*(service.connection_test(t) for t in targets))
    assert {r.error_kind for r in results} == {ErrorKind.AUTHENTICATION_FAILED}
    assert acr.front.entra_calls == 1  # the refusal is remembered, not asked 8 times

    clock = service.minting.clock
    assert isinstance(clock, Clock)
    clock.now += timedelta(minutes=2)  # past the 60 s memory of the refusal
    await service.connection_test(targets[0])
    assert acr.front.entra_calls == 2


async def test_registry_refusing_arm_audience_tokens_is_served_with_the_acr_audience(
    acr: AcrSetup,  # noqa: F811
    service: RegistryService,
    unique_repo: str,
) -> None:
    """A registry with ARM-audience tokens disabled (Azure Policy) refuses the exchange of an
    ARM token; the ACR-audience token works, and the test says which audience it used. No
    "give AcrPull" advice: the role was never the problem."""
    acr.front.arm_audience_disabled = True
    acr.push(unique_repo)
    result = await service.connection_test(target(acr, unique_repo, SP))
    assert result.ok, result.message
    assert "ACR audience" in result.steps[1].detail
    assert "AcrPull" not in result.message
    assert sorted(acr.front.aad_tokens.values()) == [
        "https://containerregistry.azure.net",
        "https://management.azure.com",
    ]

"""Registry behaviour taken from the upstream specification and reference, where our reading
used to differ (issue 21): OCI deletion disabled as 400, ECR's dual-stack hosts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

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
from registry.ecr import ecr_place
from tests.support.hostile_registry import API, HostileRegistry
from tests.support.registry_httpserver import Request, Response

SECRET = "upstream-s3cret-pass"
CREDS = Credentials("dana", SECRET)


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username=CREDS.username, secret=SECRET) as server:
        yield server


def deletion_disabled_with_400(request: Request) -> Response | None:
    """distribution-spec spec.md, "Deleting tags" / "Deleting Manifests": with deletion
    disabled "the registry MUST respond with either a 400 Bad Request or a 405 Method Not
    Allowed"; the error code is distribution's UNSUPPORTED (registry/api/errcode/register.go,
    ErrorCodeUnsupported).  This registry picks 400."""
    if request.method == "DELETE" and "/manifests/" in request.raw_path:
        body = {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}
        return Response.json(400, body, API)
    return None


async def test_deletion_disabled_answered_400_unsupported(registry: HostileRegistry) -> None:
    registry.override = deletion_disabled_with_400
    config = RegistryConfig(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    target = RepositoryTarget(RegistryType.IMAGE_REGISTRY, registry.url, "team/app", CREDS, False)
    async with RegistryService(config) as service:
        with pytest.raises(RegistryError) as raised:
            await service.delete_repository(target)
    assert raised.value.kind is ErrorKind.DELETE_UNSUPPORTED
    assert "deletion disabled (HTTP 400 UNSUPPORTED); nothing was deleted" in raised.value.message


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("123456789012.dkr-ecr.eu-west-1.on.aws", "eu-west-1"),  # dual-stack (IPv4 + IPv6)
        ("123456789012.dkr-ecr-fips.us-gov-west-1.on.aws", "us-gov-west-1"),
        ("123456789012.dkr.ecr-fips.us-east-2.amazonaws.com", "us-east-2"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", "cn-northwest-1"),
    ],
)
def test_ecr_hosts_of_every_endpoint_kind_name_their_region(host: str, region: str) -> None:
    """AWS ECR user guide, "Making requests to Amazon ECR registries": the dual-stack registry
    endpoint is `<registry-id>.dkr-ecr.<aws-region>.on.aws`; without AWS_REGION set."""
    place = ecr_place(host, None)
    assert (place.region, place.account) == (region, "123456789012")

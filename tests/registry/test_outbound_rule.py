"""The outbound rule (issue 18, findings 2 and 3): a saved credential never reaches a host it
was not saved for, whatever the driver and whatever the operation (Connection Test, the
scheduled re-check's test, create, delete in IR, token exchange, API call).

127.0.0.2 is the registry the entry was saved for (its pins); 127.0.0.3 is another host:
the realm "moved" there, or an API redirects there.  Every server records every header,
target and body it got, and the tests assert that the saved secret, in any spelling
(plain, Basic, URL-encoded), never arrived at 127.0.0.3.

The stand-in answers follow the providers' documented APIs: GitLab's token self-description
and registry repositories (https://docs.gitlab.com/ee/api/personal_access_tokens.html,
https://docs.gitlab.com/ee/api/container_registry.html), the registry token flow of the
distribution spec (https://distribution.github.io/distribution/spec/auth/token/), ACR's
`/oauth2/token` and `DELETE /acr/v1/{name}` (Azure/acr docs/AAD-OAuth.md), Quay's
`/api/v1/repository` and GitHub's `GET /user` (docs.github.com/rest/users/users).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from registry import (
    Credentials,
    ErrorKind,
    OriginPins,
    RegisteredTool,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from registry.http import HttpClient, Service, Stats
from registry.outbound import OutboundRule
from registry.target import TlsOptions
from tests.support.cloud_ecr import ACCESS_KEY_ID as ECR_KEY_ID
from tests.support.cloud_ecr import REGION as ECR_REGION
from tests.support.cloud_ecr import SECRET_ACCESS_KEY as ECR_SECRET_KEY
from tests.support.cloud_ecr import EcrStandIn, ecr  # noqa: F401 - the fixture
from tests.support.cloud_gar import LOCATION as GAR_LOCATION
from tests.support.cloud_gar import GarSetup, gar  # noqa: F401 - the fixture
from tests.support.hostile_registry import (
    HostileRegistry,
    acr_api,
    gitlab_api,
    received_secret,
)
from tests.support.registry_httpserver import Request, Response

USER = "dana"
SECRET = "glpat-outbound-s3cret"
CREDS = Credentials(USER, SECRET)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def config(**more: str) -> RegistryConfig:
    return RegistryConfig(
        allowed_networks=LOOPBACK,
        connect_timeout=2.0,
        read_timeout=3.0,
        operation_timeout=15.0,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def saved() -> Iterator[HostileRegistry]:
    """The registry the entry was saved for (127.0.0.2)."""
    with HostileRegistry(host="127.0.0.2", username=USER, secret=SECRET) as registry:
        yield registry


@pytest.fixture
def moved() -> Iterator[HostileRegistry]:
    """Another host (127.0.0.3) that would happily take the credential and answer."""
    with HostileRegistry(host="127.0.0.3", username=USER, secret=SECRET) as registry:
        yield registry


def pinned(saved: HostileRegistry) -> OriginPins:
    return OriginPins(saved.url, saved.url)


def entry(
    kind: RegistryType, url: str, repository: str, pins: OriginPins | None, **more: object
) -> RepositoryTarget:
    return RepositoryTarget(kind, url, repository, CREDS, False, pins=pins, **more)  # type: ignore[arg-type]


def assert_never_reached(server: HostileRegistry) -> None:
    assert received_secret(server.requests, USER, SECRET) == []


# -- the chokepoint itself ---------------------------------------------------------------


async def test_a_bound_credential_is_refused_before_any_byte_reaches_another_origin(
    moved: HostileRegistry,
) -> None:
    client = HttpClient(config())
    rule = OutboundRule()
    rule.bind(CREDS, {"http://127.0.0.2:5000"})
    bound = client.for_operation(rule)
    try:
        for headers in ({"PRIVATE-TOKEN": SECRET}, {"X-Anything": f"token {SECRET}"}):
            with pytest.raises(RegistryError) as refused:
                await bound.request(
                    "GET",
                    f"{moved.url}/api/v4/user",
                    tls=TlsOptions(),
                    stats=Stats(),
                    service=Service("GitLab"),
                    headers=headers,
                )
            assert refused.value.kind is ErrorKind.ORIGIN_CHANGED
            assert "saved for http://127.0.0.2:5000" in refused.value.message
            assert SECRET not in refused.value.message
        with pytest.raises(RegistryError):
            await bound.request(
                "POST",
                f"{moved.url}/login",
                tls=TlsOptions(),
                stats=Stats(),
                service=Service("the API"),
                json_body={"secret": SECRET},
            )
    finally:
        await client.aclose()
    assert moved.requests == []


async def test_every_credential_bearing_header_is_dropped_on_a_cross_origin_redirect(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    saved.override = lambda r: Response(302, b"", [("Location", f"{moved.url}/landing")])
    moved.override = lambda r: Response.json(200, {})
    client = HttpClient(config())
    rule = OutboundRule({"minted-token-abc"})
    bound = client.for_operation(rule)
    try:
        answer = await bound.request(
            "GET",
            f"{saved.url}/start",
            tls=TlsOptions(),
            stats=Stats(),
            service=Service("the registry"),
            authorization="Bearer minted-token-abc",
            headers={
                "PRIVATE-TOKEN": SECRET,
                "Cookie": "session=abc123",
                "X-Vendor-Key": "vendor-key-1",
                "X-Trace": "carries minted-token-abc",
                "Accept": "application/json",
            },
            secret_headers=("X-Vendor-Key",),
        )
    finally:
        await client.aclose()
    assert answer.status == 200
    [landed] = moved.requests
    names = set(landed.headers)
    assert names.isdisjoint(
        {"authorization", "private-token", "cookie", "x-vendor-key", "x-trace"}
    ), names
    assert landed.headers["accept"] == "application/json"
    assert "minted-token-abc" not in str(landed.headers)
    assert_never_reached(moved)


# -- GitLab: the realm (and with it GitLab's API) moved to another host -------------------


def gitlab_moved(saved: HostileRegistry, moved: HostileRegistry) -> None:
    saved.override = gitlab_api(saved, SECRET)
    moved.override = gitlab_api(moved, SECRET)
    saved.realm = f"{moved.url}/jwt/auth"


async def test_gitlab_test_and_recheck_after_the_realm_moved_send_no_token_there(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    """The Connection Test and the scheduled re-check both run `connection_test` on the
    saved entry (bot/recheck.py): neither may describe the token to the new host."""
    gitlab_moved(saved, moved)
    target = entry(RegistryType.GITLAB, saved.url, "team/app/api", pinned(saved))
    async with RegistryService(config()) as service:
        for _run in ("list's Connection Test", "scheduled re-check"):
            result = await service.connection_test(target)
            assert result.error_kind is ErrorKind.ORIGIN_CHANGED, result.message
            assert not result.ok
    assert_never_reached(moved)


async def test_gitlab_create_and_delete_after_the_realm_moved_send_no_token_there(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    gitlab_moved(saved, moved)
    target = entry(RegistryType.GITLAB, saved.url, "team/app/api", pinned(saved))
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as created:
            await service.create_repository(target)
        with pytest.raises(RegistryError) as deleted:
            await service.delete_repository(target)
    assert created.value.kind is ErrorKind.ORIGIN_CHANGED
    assert deleted.value.kind is ErrorKind.ORIGIN_CHANGED
    assert SECRET not in deleted.value.message
    assert_never_reached(moved)
    assert not any(r.method == "DELETE" for r in moved.requests)


async def test_gitlab_with_its_realm_in_place_still_works(saved: HostileRegistry) -> None:
    """The rule refuses only a change: the same pinned entry passes and deletes where it
    was saved."""
    saved.override = gitlab_api(saved, SECRET)
    saved.realm = f"{saved.url}/jwt/auth"
    target = entry(RegistryType.GITLAB, saved.url, "team/app/api", pinned(saved))
    async with RegistryService(config()) as service:
        result = await service.connection_test(target)
        await service.delete_repository(target)
    assert result.ok, result.message
    assert any(r.method == "DELETE" and r.raw_path.endswith("/7") for r in saved.requests)


async def test_a_gitlab_api_redirect_to_another_host_carries_no_token_and_fails_the_test(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    gitlab_moved(saved, moved)
    saved.realm = f"{saved.url}/jwt/auth"
    api = gitlab_api(saved, SECRET)

    def redirecting(request: Request) -> Response | None:
        if request.raw_path.startswith("/api/v4/"):
            return Response(302, b"", [("Location", f"{moved.url}{request.target}")])
        return api(request)

    saved.override = redirecting
    tool = RegisteredTool(saved.url, CREDS, kind=RegistryType.GITLAB)
    async with RegistryService(config()) as service:
        unpinned = await service.connection_test(
            entry(RegistryType.GITLAB, saved.url, "team/app/api", None)
        )
        tool_test = await service.test_tool(tool)
        with pytest.raises(RegistryError) as deleted:
            await service.delete_repository(
                entry(RegistryType.GITLAB, saved.url, "team/app/api", None, tool=tool)
            )
    assert not unpinned.ok and unpinned.error_kind is ErrorKind.REFUSED_TARGET, unpinned.message
    assert not tool_test.ok and tool_test.error_kind is ErrorKind.REFUSED_TARGET
    assert deleted.value.kind is ErrorKind.REFUSED_TARGET
    assert "another origin" in unpinned.message
    assert_never_reached(moved)


# -- ACR: a pinned admin user, the token realm moved ---------------------------------------


async def test_acr_test_and_delete_after_the_realm_moved_send_no_password_there(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    saved.override = acr_api(saved)
    moved.override = acr_api(moved)
    saved.realm = f"{moved.url}/oauth2/token"
    target = entry(RegistryType.ACR, saved.url, "team/app", pinned(saved))
    async with RegistryService(config()) as service:
        tested = await service.connection_test(target)
        with pytest.raises(RegistryError) as deleted:
            await service.delete_repository(target)
    assert tested.error_kind is ErrorKind.ORIGIN_CHANGED
    assert deleted.value.kind is ErrorKind.ORIGIN_CHANGED
    assert not any(r.method == "DELETE" for r in saved.requests), "nothing may be deleted"
    assert_never_reached(moved)


# -- the other drivers: token exchange with a moved realm, API calls redirected ------------


@pytest.mark.parametrize(
    "kind",
    [RegistryType.IMAGE_REGISTRY, RegistryType.QUAY, RegistryType.GHCR, RegistryType.HARBOR],
)
async def test_a_moved_realm_gets_no_password_for_test_or_delete(
    kind: RegistryType, saved: HostileRegistry, moved: HostileRegistry
) -> None:
    saved.realm = f"{moved.url}/token"
    # GitHub's API (configured) answers on the saved host: only the realm moved.
    saved.override = lambda r: (
        Response.json(200, {"login": USER}, [("X-OAuth-Scopes", "write:packages, delete:packages")])
        if r.raw_path == "/user"
        else None
    )
    tool = RegisteredTool(saved.url, None) if kind is RegistryType.HARBOR else None
    target = entry(kind, saved.url, "team/app", pinned(saved), tool=tool)
    async with RegistryService(config(github_api_url=saved.url)) as service:
        tested = await service.connection_test(target)
        with pytest.raises(RegistryError):
            await service.delete_repository(target)
    assert tested.error_kind is ErrorKind.ORIGIN_CHANGED, tested.message
    assert_never_reached(moved)


async def test_docker_hub_with_a_moved_realm_sends_no_password_there(
    saved: HostileRegistry, moved: HostileRegistry
) -> None:
    saved.realm = f"{moved.url}/token"
    target = entry(RegistryType.DOCKER_HUB, "", "team/app", pinned(saved))
    async with RegistryService(
        config(dockerhub_registry_url=saved.url, dockerhub_api_url=saved.url)
    ) as service:
        tested = await service.connection_test(target)
    assert tested.error_kind is ErrorKind.ORIGIN_CHANGED, tested.message
    assert_never_reached(moved)


@pytest.mark.parametrize("kind", [RegistryType.QUAY, RegistryType.GHCR, RegistryType.HARBOR])
async def test_an_api_redirect_to_another_host_carries_no_token_for_create_or_delete(
    kind: RegistryType, saved: HostileRegistry, moved: HostileRegistry
) -> None:
    def redirecting(request: Request) -> Response | None:
        if request.raw_path.startswith(("/api/", "/user", "/orgs/")):
            return Response(307, b"", [("Location", f"{moved.url}{request.target}")])
        return None

    saved.override = redirecting
    moved.override = lambda r: Response.json(200, {"login": USER, "id": 1})
    if kind is RegistryType.QUAY:
        target = RepositoryTarget(
            kind, saved.url, "team/app", Credentials("$oauthtoken", SECRET), False
        )
    elif kind is RegistryType.HARBOR:
        tool = RegisteredTool(saved.url, CREDS)
        target = entry(kind, saved.url, "team/app", None, tool=tool)
    else:
        target = entry(kind, saved.url, "team/app", None)
    async with RegistryService(config(github_api_url=saved.url)) as service:
        if kind is RegistryType.GHCR:  # GHCR creates on first push: its test asks the API
            tested = await service.connection_test(target)
            first = tested.error_kind
        else:
            with pytest.raises(RegistryError) as created:
                await service.create_repository(target)
            first = created.value.kind
        with pytest.raises(RegistryError) as deleted:
            await service.delete_repository(target)
    assert first is ErrorKind.REFUSED_TARGET
    assert deleted.value.kind is ErrorKind.REFUSED_TARGET, deleted.value.message
    assert_never_reached(moved)


async def test_the_same_origin_redirect_of_an_api_still_works(saved: HostileRegistry) -> None:
    """Only another origin is refused: GitHub answers renamed resources with a 301 on the
    same host, which is followed with the token."""

    def answer(request: Request) -> Response | None:
        if request.raw_path == "/user":
            return Response(301, b"", [("Location", "/user2")])
        if request.raw_path == "/user2":
            seen = request.headers.get("authorization")
            return Response.json(200 if seen == f"Bearer {SECRET}" else 401, {"login": USER})
        return None

    saved.override = answer
    client = HttpClient(config())
    try:
        response = await client.for_operation(OutboundRule()).request(
            "GET",
            f"{saved.url}/user",
            tls=TlsOptions(),
            stats=Stats(),
            service=Service("GitHub"),
            authorization=f"Bearer {SECRET}",
            keep_origin=True,
        )
    finally:
        await client.aclose()
    assert response.status == 200
    assert httpx.URL(response.url).path == "/user2"


# -- the cloud types: a minted credential inherits the pins of the key it came from --------


@pytest.mark.registry
async def test_ecr_minted_password_never_reaches_a_moved_realm(
    ecr: EcrStandIn,  # noqa: F811
    saved: HostileRegistry,
    moved: HostileRegistry,
) -> None:
    saved.realm = f"{moved.url}/token"
    target = RepositoryTarget(
        RegistryType.ECR,
        saved.url,
        "team/app",
        Credentials(ECR_KEY_ID, ECR_SECRET_KEY),
        False,
        pins=pinned(saved),
    )
    async with RegistryService(config(aws_region=ECR_REGION)) as service:
        tested = await service.connection_test(target)
    assert tested.error_kind is ErrorKind.ORIGIN_CHANGED, tested.message
    assert received_secret(moved.requests, "AWS", ecr.password) == []
    assert received_secret(moved.requests, ECR_KEY_ID, ECR_SECRET_KEY) == []


@pytest.mark.registry
async def test_gar_minted_token_never_reaches_a_moved_realm(
    gar: GarSetup,  # noqa: F811
    saved: HostileRegistry,
    moved: HostileRegistry,
) -> None:
    saved.realm = f"{moved.url}/token"
    key = gar.google.key_json()
    target = RepositoryTarget(
        RegistryType.GAR,
        saved.url,
        "acme-prod/docker/api",
        Credentials("_json_key", key),
        False,
        pins=pinned(saved),
    )
    settings = config(google_api_url=gar.api_url, google_location=GAR_LOCATION)
    async with RegistryService(settings) as service:
        tested = await service.connection_test(target)
    assert tested.error_kind is ErrorKind.ORIGIN_CHANGED, tested.message
    assert gar.google.minted, "the token was minted at the key's own token_uri"
    assert received_secret(moved.requests, "oauth2accesstoken", gar.google.minted[0]) == []
    assert "PRIVATE KEY" not in str([r.body for r in moved.requests])


@pytest.mark.parametrize(
    "spelling",
    ["form body", "json body", "query", "basic header"],
)
async def test_a_secret_with_special_characters_is_found_in_every_spelling(
    spelling: str, moved: HostileRegistry
) -> None:
    """A service principal's client secret travels URL-encoded in a form body (Entra ID),
    a Hub password JSON-escaped: the rule must recognise those spellings too."""
    odd = Credentials("tenant/client", 'p@ss w/rd+"\\é')
    rule = OutboundRule()
    rule.bind(odd, {"http://127.0.0.2:5000"})
    request: dict[str, object] = {}
    if spelling == "form body":
        request["content"] = urlencode({"client_secret": odd.secret}).encode()
    elif spelling == "json body":
        request["json_body"] = {"secret": odd.secret}
    elif spelling == "query":
        request["params"] = [("password", odd.secret)]
    else:
        raw = base64.b64encode(f"{odd.username}:{odd.secret}".encode()).decode()
        request["authorization"] = f"Basic {raw}"
    client = HttpClient(config())
    try:
        with pytest.raises(RegistryError) as refused:
            await client.for_operation(rule).request(
                "POST",
                f"{moved.url}/token",
                tls=TlsOptions(),
                stats=Stats(),
                service=Service("the token service"),
                **request,  # type: ignore[arg-type]
            )
    finally:
        await client.aclose()
    assert refused.value.kind is ErrorKind.ORIGIN_CHANGED
    assert moved.requests == []

"""A hostile or misconfigured registry (issue 11, findings 7-12): whatever it answers, the
password stays where it was pinned, internal networks stay closed, memory and CPU stay
bounded, and every answer ends in a RegistryError of a known kind.

"Other hosts" are other loopback addresses: 127.0.0.2 is the registry, 127.0.0.3 a
host the registry would like the bot to visit.
"""

from __future__ import annotations

import ipaddress
import logging
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from registry import (
    Credentials,
    ErrorKind,
    OriginPins,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
    origin_of,
)
from registry.urlguard import forbidden_reason
from tests.support.hostile_registry import API, HostileRegistry, gzip_bomb, token_answer
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer
from tests.support.registry_server import TokenRegistry

SECRET = "hostile-s3cret-pass"
CREDS = Credentials("dana", SECRET)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def target(url: str, *, pull_only: bool = True, pins: OriginPins | None = None) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.IMAGE_REGISTRY, url, "team/app", CREDS, pull_only, pins=pins
    )


def config(*networks: str) -> RegistryConfig:
    allowed = tuple(ipaddress.ip_network(n) for n in networks) if networks else LOOPBACK
    return RegistryConfig(
        allowed_networks=allowed, connect_timeout=2.0, read_timeout=3.0, operation_timeout=15.0
    )


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username=CREDS.username, secret=SECRET) as registry:
        yield registry


@pytest.fixture
def elsewhere() -> Iterator[Callable[[Callable[[Request], Response]], ThreadedHttpServer]]:
    """Servers on 127.0.0.3: the other host a hostile registry points at."""
    made: list[ThreadedHttpServer] = []

    def make(handler: Callable[[Request], Response]) -> ThreadedHttpServer:
        server = ThreadedHttpServer(handler, host="127.0.0.3")
        server.start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


def carried_password(server: ThreadedHttpServer | HostileRegistry) -> bool:
    return any("authorization" in r.headers for r in server.requests)


# -- finding 7: the password goes only to the origins it was pinned to -----------------------


async def test_a_cross_origin_redirect_of_v2_never_takes_the_password_along(
    hostile: HostileRegistry, elsewhere: Callable[..., ThreadedHttpServer]
) -> None:
    def collector(request: Request) -> Response:
        if request.raw_path == "/token":
            return token_answer(request, hostile.authorization)
        challenge = f'Bearer realm="{other.url}/token",service="evil"'
        return Response.json(401, {}, [("WWW-Authenticate", challenge), *API])

    other = elsewhere(collector)
    hostile.override = lambda r: (
        Response(307, b"", [("Location", f"{other.url}/v2/")]) if r.raw_path == "/v2/" else None
    )
    async with RegistryService(config()) as service:
        result = await service.connection_test(target(hostile.url))
    assert result.error_kind is ErrorKind.REFUSED_TARGET, result.message
    assert f"from {hostile.url} to {other.url}, another origin" in result.message
    assert SECRET not in result.message
    assert not carried_password(other), "the other host must never see the password"


async def test_a_changed_token_realm_of_a_pinned_entry_is_refused_without_the_password(
    hostile: HostileRegistry, elsewhere: Callable[..., ThreadedHttpServer]
) -> None:
    other = elsewhere(lambda r: token_answer(r, hostile.authorization))
    async with RegistryService(config()) as service:
        first = await service.connection_test(target(hostile.url))
        assert first.ok, first.message
        assert (first.registry_origin, first.realm_origin) == (hostile.url, hostile.url)
        pins = OriginPins(first.registry_origin or "", first.realm_origin)

        hostile.realm = f"{other.url}/token"  # the registry now names another host's realm
        refused = await service.connection_test(target(hostile.url, pins=pins))
        assert refused.error_kind is ErrorKind.ORIGIN_CHANGED
        assert refused.message.startswith("Sign-in failed:")
        assert f"token service at {other.url}" in refused.message
        assert "enter the password again" in refused.message
        assert not carried_password(other)

        # A password typed again (Change account: no pins) may go there, and says where.
        again = await service.connection_test(target(hostile.url))
    assert again.ok, again.message
    assert again.realm_origin == other.url and carried_password(other)


async def test_a_pinned_registry_origin_that_changed_is_refused_before_any_request(
    hostile: HostileRegistry,
) -> None:
    pins = OriginPins("https://harbor.old.example", "https://harbor.old.example")
    async with RegistryService(config()) as service:
        result = await service.connection_test(target(hostile.url, pins=pins))
        with pytest.raises(RegistryError) as deleted:
            await service.delete_repository(target(hostile.url, pins=pins))
    assert result.error_kind is ErrorKind.ORIGIN_CHANGED
    assert "saved for the registry at https://harbor.old.example" in result.message
    assert deleted.value.kind is ErrorKind.ORIGIN_CHANGED
    assert hostile.requests == []


@pytest.mark.registry
async def test_the_real_token_registry_reports_and_honours_its_realm_pin(
    registry_service: RegistryService, token_registry: TokenRegistry
) -> None:
    admin = Credentials("admin", "admin-pass-1")
    first = await registry_service.connection_test(
        RepositoryTarget(RegistryType.IMAGE_REGISTRY, token_registry.url, "pins/app", admin, True)
    )
    assert first.realm_origin == origin_of(token_registry.realm)
    assert first.registry_origin == origin_of(token_registry.url)
    tokens_before = len(token_registry.token_server.requests)
    saved_elsewhere = OriginPins(origin_of(token_registry.url), "http://127.0.0.3:1")
    refused = await registry_service.connection_test(
        RepositoryTarget(
            RegistryType.IMAGE_REGISTRY,
            token_registry.url,
            "pins/app",
            admin,
            True,
            pins=saved_elsewhere,
        )
    )
    assert refused.error_kind is ErrorKind.ORIGIN_CHANGED
    assert len(token_registry.token_server.requests) == tokens_before


# -- finding 8: a registry cannot send the bot into allowed networks it is not in ------------


async def test_an_upload_location_into_another_allowed_network_is_not_followed(
    hostile: HostileRegistry, elsewhere: Callable[..., ThreadedHttpServer]
) -> None:
    internal = elsewhere(lambda r: Response(204))

    def upload(request: Request) -> Response | None:
        if request.raw_path.endswith("/blobs/uploads/") and request.method == "POST":
            where = f"{internal.url}/internal/drop-database"
            return Response(202, b"", [("Location", where), *API])
        return None

    hostile.override = upload
    # Both hosts are allowed, but as separate networks: the registry is only in the first.
    async with RegistryService(config("127.0.0.2/32", "127.0.0.3/32")) as service:
        result = await service.connection_test(target(hostile.url, pull_only=False))
        redirected = HostileRegistry(host="127.0.0.2", username="x", secret="y")
        redirected.override = lambda r: Response(302, b"", [("Location", f"{internal.url}/v2/")])
        redirected.start()
        try:
            check = await service.url_check(redirected.url)
        finally:
            redirected.stop()
    assert result.ok, result.message
    assert "could not cancel it" in result.message or "could not cancel" in str(result.steps)
    assert internal.requests == [], "nothing may reach the other allowed network"
    assert check.error_kind is ErrorKind.REFUSED_TARGET
    assert "registry's own address is not in that network" in check.message


async def test_a_location_inside_the_registrys_own_network_is_still_followed(
    hostile: HostileRegistry,
) -> None:
    sibling = ThreadedHttpServer(lambda r: Response(204), host="127.0.0.2")
    sibling.start()
    try:
        hostile.override = lambda r: (
            Response(202, b"", [("Location", f"{sibling.url}/upload/u1"), *API])
            if r.raw_path.endswith("/blobs/uploads/") and r.method == "POST"
            else None
        )
        async with RegistryService(config("127.0.0.2/32", "127.0.0.3/32")) as service:
            result = await service.connection_test(target(hostile.url, pull_only=False))
    finally:
        sibling.stop()
    assert result.ok, result.message
    assert [r.method for r in sibling.requests] == ["DELETE"]
    assert not carried_password(sibling), "another origin gets no Authorization"


# -- finding 9: a gzip bomb stops at the cap, decompressed bytes counted while reading ------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(256 << 20)  # 256 MiB of zeros in about 250 KiB


async def test_a_gzip_bomb_is_cut_at_the_cap_without_inflating_it(
    hostile: HostileRegistry, bomb: bytes
) -> None:
    def tags(request: Request) -> Response | None:
        if request.raw_path.endswith("/tags/list") and "authorization" in request.headers:
            headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
            return Response(200, bomb, [*headers, *API])
        return None

    hostile.override = tags
    async with RegistryService(config()) as service:
        tracemalloc.start()
        try:
            result = await service.connection_test(target(hostile.url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.error_kind is ErrorKind.REGISTRY_ERROR, result.message
    assert "answered the tags list of team/app with non-JSON" in result.message
    assert peak < 24 << 20, f"peak {peak / 2**20:.1f} MiB while reading a 4 MiB capped body"
    assert all(r.headers.get("accept-encoding") == "identity" for r in hostile.requests)


# -- finding 10: tags are de-duplicated with a set and capped --------------------------------


@pytest.mark.timeout(60)
async def test_400000_tags_in_one_page_end_at_the_tag_cap_and_nothing_is_deleted(
    hostile: HostileRegistry,
) -> None:
    hostile.tags = [str(i) for i in range(400_000)]  # 3.5 MB: under the 4 MiB body cap
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as info:
            await service.delete_repository(target(hostile.url))
    assert info.value.kind is ErrorKind.UNSUPPORTED_OPERATION
    assert "more than 10,000 tags; nothing was deleted" in info.value.message
    assert not any("/manifests/" in r.raw_path for r in hostile.requests)


# -- finding 11: absurd numbers and deep JSON end in a RegistryError of a known kind --------


@pytest.mark.parametrize(
    "headers",
    [
        [("Retry-After", "1e300")],
        [("Retry-After", "inf")],
        [("Retry-After", "nan")],
        [("Retry-After", "Fri, 31 Dec 99999 23:59:59 GMT")],
        [("X-RateLimit-Reset", "1e308")],
        [("ratelimit-limit", "100;w=999999999999")],
    ],
)
async def test_absurd_rate_limit_headers_end_in_a_rate_limit_error(
    hostile: HostileRegistry, headers: list[tuple[str, str]]
) -> None:
    hostile.override = lambda r: Response.json(429, {}, [*headers, *API])
    async with RegistryService(config()) as service:
        result = await service.connection_test(target(hostile.url))
    assert result.error_kind is ErrorKind.RATE_LIMITED, result.message
    assert result.message.startswith("Not reachable: Rate limited by the registry")


async def test_a_deeply_nested_json_error_body_ends_in_a_registry_error(
    hostile: HostileRegistry,
) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    hostile.override = lambda r: Response(403, deep, [("Content-Type", "application/json")])
    async with RegistryService(config()) as service:
        result = await service.connection_test(target(hostile.url))
    assert result.error_kind is ErrorKind.PERMISSION_DENIED, result.message
    assert "refused access to /v2/ (HTTP 403)" in result.message


async def test_a_token_lifetime_too_large_for_a_float_still_gives_a_working_token(
    hostile: HostileRegistry,
) -> None:
    forever = b'{"token": "hostile-token", "expires_in": 1' + b"0" * 400 + b"}"
    hostile.override = lambda r: (
        Response(200, forever, [("Content-Type", "application/json")])
        if r.raw_path == "/token"
        else None
    )
    async with RegistryService(config()) as service:
        result = await service.connection_test(target(hostile.url))
    assert result.ok, result.message


async def test_any_unexpected_exception_ends_in_a_protocol_error_logged_without_secrets(
    hostile: HostileRegistry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(f"unexpected {SECRET}")

    monkeypatch.setattr("registry.oci.parse_token_response", broken)
    async with RegistryService(config()) as service:
        with caplog.at_level(logging.ERROR, logger="registry.service"):
            result = await service.connection_test(target(hostile.url))
    assert result.error_kind is ErrorKind.PROTOCOL
    assert result.message.startswith("Sign-in failed: The registry's answer could not")
    assert "KeyError" in caplog.text and SECRET not in caplog.text


# -- finding 12: every internal range is refused -----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # site-local IPv6
        "feff::1",
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo for 10.0.0.1
        "::ffff:10.0.0.1",
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "0.1.2.3",
        "100.64.0.1",
        "198.18.0.1",
        "169.254.169.254",
        "fd00:ec2::254",
    ],
)
def test_every_internal_range_is_refused(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


async def test_a_site_local_registry_url_is_refused_without_a_connection() -> None:
    async with RegistryService(RegistryConfig()) as service:
        result = await service.url_check("http://[fec0::1]:5000")
    assert result.error_kind is ErrorKind.REFUSED_TARGET
    assert "fec0::1: it is a site-local address" in result.message


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "2002:808:808::1"])
def test_public_addresses_stay_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None

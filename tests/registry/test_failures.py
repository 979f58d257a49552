"""Every network-level error kind from a real failure: DNS, refused, timeouts, TLS, not a
registry, 5xx and 429 answers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegistryConfig,
    RegistryService,
    RegistryType,
    RepositoryTarget,
    TlsOptions,
)
from tests.support.certs import TestCA
from tests.support.registry_httpserver import (
    Request,
    Response,
    SilentServer,
    ThreadedHttpServer,
    free_port,
)
from tests.support.registry_server import RegistryServer

ALICE = Credentials("alice", "alice-pass-1")

pytestmark = pytest.mark.registry


def plain(url: str, repo: str = "team/app", *, tls: TlsOptions | None = None) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.IMAGE_REGISTRY, url, repo, ALICE, pull_only=True, tls=tls or TlsOptions()
    )


@pytest.fixture
def standin() -> Iterator[Callable[[Callable[[Request], Response]], ThreadedHttpServer]]:
    servers: list[ThreadedHttpServer] = []

    def make(handler: Callable[[Request], Response]) -> ThreadedHttpServer:
        server = ThreadedHttpServer(handler)
        server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


async def test_dns_failure(registry_service: RegistryService) -> None:
    check = await registry_service.url_check("https://no-such-registry.invalid")
    assert not check.ok
    assert check.error_kind is ErrorKind.DNS_FAILURE
    assert check.message.startswith("DNS lookup failed for no-such-registry.invalid")


async def test_connection_refused(registry_service: RegistryService) -> None:
    port = free_port()
    result = await registry_service.connection_test(plain(f"http://127.0.0.1:{port}"))
    assert result.error_kind is ErrorKind.CONNECTION_REFUSED
    assert f"nothing is listening on 127.0.0.1:{port}" in result.message
    assert result.message.startswith("Not reachable: ")


async def test_a_registry_that_never_answers_times_out(registry_config: RegistryConfig) -> None:
    config = dataclasses.replace(registry_config, read_timeout=0.3)
    with SilentServer() as silent:
        async with RegistryService(config) as service:
            started = time.monotonic()
            result = await service.connection_test(plain(silent.url))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert "accepted the connection but did not answer within 0.3 s" in result.message
    assert time.monotonic() - started < 10  # gave up on the read, not the 15 s operation


async def test_a_server_that_hangs_up_is_a_network_error(registry_service: RegistryService) -> None:
    with SilentServer(hang_up=True) as server:
        result = await registry_service.connection_test(plain(server.url))
    assert result.error_kind is ErrorKind.NETWORK_ERROR
    assert result.message == (
        f"Not reachable: The registry at {server.url} closed the connection before answering "
        f"(127.0.0.1:{server.port})."
    )


async def test_the_whole_test_is_bounded_in_time(
    registry_config: RegistryConfig,
    standin: Callable[[Callable[[Request], Response]], ThreadedHttpServer],
) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response.json(200, {}, [("Docker-Distribution-Api-Version", "registry/2.0")])

    server = standin(slow)
    config = dataclasses.replace(registry_config, operation_timeout=0.5)
    async with RegistryService(config) as service:
        result = await service.connection_test(plain(server.url))
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.message == "Pull failed: Gave up after 0.5 s: the registry is too slow to answer."
    assert [s.ok for s in result.steps][:2] == [True, True]


async def test_not_a_registry_404_and_web_page(
    registry_service: RegistryService,
    standin: Callable[[Callable[[Request], Response]], ThreadedHttpServer],
) -> None:
    missing = standin(lambda r: Response.text(404, "not found"))
    check = await registry_service.url_check(missing.url)
    assert check.error_kind is ErrorKind.NOT_A_REGISTRY
    assert (
        check.message == f"No registry API at {missing.url}: {missing.url}/v2/ answered HTTP 404."
    )

    web = standin(lambda r: Response.text(200, "<html>Welcome</html>", "text/html"))
    check = await registry_service.url_check(web.url)
    assert check.error_kind is ErrorKind.NOT_A_REGISTRY
    assert "answered with a web page, not the registry API" in check.message


async def test_registry_5xx_is_a_registry_error(
    registry_service: RegistryService,
    standin: Callable[[Callable[[Request], Response]], ThreadedHttpServer],
) -> None:
    def handler(request: Request) -> Response:
        if request.raw_path == "/v2/":
            return Response.json(200, {}, [("Docker-Distribution-Api-Version", "registry/2.0")])
        return Response.json(503, {"errors": [{"code": "UNAVAILABLE", "message": "storage down"}]})

    server = standin(handler)
    result = await registry_service.connection_test(plain(server.url))
    assert result.error_kind is ErrorKind.REGISTRY_ERROR
    assert result.message == (
        f"Pull failed: The registry at {server.url} answered HTTP 503 (UNAVAILABLE: storage down)."
    )


async def test_429_is_rate_limited_with_the_retry_time(
    registry_service: RegistryService,
    standin: Callable[[Callable[[Request], Response]], ThreadedHttpServer],
) -> None:
    server = standin(lambda r: Response(429, b"", [("Retry-After", "120")]))
    check = await registry_service.url_check(server.url)
    assert check.error_kind is ErrorKind.RATE_LIMITED
    assert "Rate limited by the registry" in check.message
    assert "(in 2 min)" in check.message


# -- TLS -------------------------------------------------------------------------


async def test_tls_registry_is_trusted_with_its_ca_bundle_only(
    registry_service: RegistryService, tls_registry: RegistryServer, unique_repo: str
) -> None:
    tls_registry.client("alice", "alice-pass-1").push_image(unique_repo)
    refused = await registry_service.connection_test(plain(tls_registry.url, unique_repo))
    assert refused.error_kind is ErrorKind.TLS_ERROR
    assert "certificate is not trusted" in refused.message
    assert "CA bundle (PEM)" in refused.message

    assert tls_registry.ca_pem is not None
    trusted = await registry_service.connection_test(
        plain(tls_registry.url, unique_repo, tls=TlsOptions(ca_bundle_pem=tls_registry.ca_pem))
    )
    assert trusted.ok, trusted.message

    insecure = await registry_service.connection_test(
        plain(tls_registry.url, unique_repo, tls=TlsOptions(verify=False))
    )
    assert insecure.ok, insecure.message


async def test_tls_errors_say_what_is_wrong(
    registry_service: RegistryService,
    tls_registry: RegistryServer,
    htpasswd_registry: RegistryServer,
    registry_factory: Callable[..., RegistryServer],
) -> None:
    wrong_scheme = await registry_service.url_check(
        htpasswd_registry.url.replace("http:", "https:")
    )
    assert wrong_scheme.error_kind is ErrorKind.TLS_ERROR
    assert "does not speak TLS (try http:// instead of https://)" in wrong_scheme.message

    plain_to_tls = await registry_service.url_check(tls_registry.url.replace("https:", "http:"))
    assert plain_to_tls.error_kind is ErrorKind.TLS_ERROR
    assert "expects TLS: use https://" in plain_to_tls.message

    bad_bundle = await registry_service.url_check(
        tls_registry.url,
        TlsOptions(ca_bundle_pem="-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----"),
    )
    assert bad_bundle.error_kind is ErrorKind.TLS_ERROR
    assert "The CA bundle is not valid" in bad_bundle.message

    other_ca = TestCA("another CA")
    wrong_ca = await registry_service.url_check(
        tls_registry.url, TlsOptions(ca_bundle_pem=other_ca.cert_pem)
    )
    assert wrong_ca.error_kind is ErrorKind.TLS_ERROR

    assert tls_registry.ca is not None
    ca = tls_registry.ca
    misnamed = registry_factory(tls=ca.issue_server(["registry.example.test"]), ca=ca)
    mismatch = await registry_service.url_check(misnamed.url, TlsOptions(ca_bundle_pem=ca.cert_pem))
    assert mismatch.error_kind is ErrorKind.TLS_ERROR
    assert "not valid for 127.0.0.1" in mismatch.message

    expired = registry_factory(tls=ca.issue_server(expired=True), ca=ca)
    old = await registry_service.url_check(expired.url, TlsOptions(ca_bundle_pem=ca.cert_pem))
    assert old.error_kind is ErrorKind.TLS_ERROR
    assert "has expired" in old.message


async def test_open_ping_but_protected_repository_uses_the_credentials(
    registry_service: RegistryService,
    standin: Callable[[Callable[[Request], Response]], ThreadedHttpServer],
) -> None:
    api = [("Docker-Distribution-Api-Version", "registry/2.0")]

    def handler(request: Request) -> Response:
        if request.raw_path == "/v2/":
            return Response.json(200, {}, api)
        if "authorization" not in request.headers:
            return Response.json(401, {}, [("WWW-Authenticate", 'Basic realm="repos"'), *api])
        return Response.json(200, {"name": "team/app", "tags": ["v1"]}, api)

    server = standin(handler)
    result = await registry_service.connection_test(plain(server.url))
    assert result.ok, result.message
    assert "with credentials the repository asked for" in result.steps[2].detail
    assert "authorization" in server.requests[-1].headers

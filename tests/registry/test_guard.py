"""The URL guard on real requests: refused addresses, pinned resolution, redirects, realms."""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable, Iterator
from typing import Any

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
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer

SECRET = "guard-s3cret-pass"
CREDS = Credentials("carol", SECRET)
API = [("Docker-Distribution-Api-Version", "registry/2.0")]


def subject(url: str, *, tls: TlsOptions | None = None, pull_only: bool = True) -> RepositoryTarget:
    return RepositoryTarget(
        RegistryType.IMAGE_REGISTRY, url, "team/app", CREDS, pull_only, tls=tls or TlsOptions()
    )


@pytest.fixture
def servers() -> Iterator[Callable[..., ThreadedHttpServer]]:
    made: list[ThreadedHttpServer] = []

    def make(handler: Callable[[Request], Response], **kwargs: Any) -> ThreadedHttpServer:
        server = ThreadedHttpServer(handler, **kwargs)
        server.start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


async def test_internal_addresses_are_refused_without_a_connection(
    servers: Callable[..., ThreadedHttpServer],
) -> None:
    server = servers(lambda r: Response.json(200, {}, API))
    async with RegistryService(RegistryConfig()) as service:  # no allowed networks
        loopback = await service.url_check(server.url)
        by_name = await service.url_check(server.url.replace("127.0.0.1", "localhost"))
        metadata = await service.connection_test(subject("http://169.254.169.254"))
        private = await service.url_check("http://10.20.30.40:5000")
    assert server.requests == [], "nothing may reach a refused address"
    assert loopback.error_kind is ErrorKind.REFUSED_TARGET
    assert "127.0.0.1: it is a loopback address" in loopback.message
    assert "IMAGEREPO_ALLOWED_NETWORKS" in loopback.message
    assert by_name.error_kind is ErrorKind.REFUSED_TARGET
    assert "localhost (127.0.0.1)" in by_name.message
    assert metadata.error_kind is ErrorKind.REFUSED_TARGET
    assert "link-local (cloud metadata)" in metadata.message
    assert metadata.message.startswith("Not reachable: Refused to connect to 169.254.169.254")
    assert private.error_kind is ErrorKind.REFUSED_TARGET and "a private address" in private.message


async def test_a_name_is_resolved_once_and_the_connection_pinned_to_that_address(
    monkeypatch: pytest.MonkeyPatch,
    registry_config: RegistryConfig,
    servers: Callable[..., ThreadedHttpServer],
) -> None:
    server = servers(lambda r: Response.json(200, {}, API))
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(str(host))
        if host == "registry.corp.test":
            return real("127.0.0.1", port, *args, **kwargs)
        if host == "rebind.corp.test":
            return real("169.254.169.254", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    async with RegistryService(registry_config) as service:
        ok = await service.url_check(f"http://registry.corp.test:{server.port}")
        refused = await service.url_check(f"http://rebind.corp.test:{server.port}")
    assert ok.ok, ok.message
    assert server.requests[-1].headers["host"] == f"registry.corp.test:{server.port}"
    assert lookups.count("registry.corp.test") == 1
    assert refused.error_kind is ErrorKind.REFUSED_TARGET
    assert "rebind.corp.test (169.254.169.254)" in refused.message


async def test_redirects_are_checked_hop_by_hop(
    registry_service: RegistryService, servers: Callable[..., ThreadedHttpServer]
) -> None:
    to_metadata = servers(
        lambda r: Response(307, b"", [("Location", "http://169.254.169.254/latest/meta-data/")])
    )
    result = await registry_service.url_check(to_metadata.url)
    assert result.error_kind is ErrorKind.REFUSED_TARGET
    assert "169.254.169.254" in result.message

    to_file = servers(lambda r: Response(302, b"", [("Location", "file:///etc/passwd")]))
    result = await registry_service.url_check(to_file.url)
    assert result.error_kind is ErrorKind.REFUSED_TARGET
    assert "redirected to a file: URL" in result.message

    looping = servers(lambda r: Response(302, b"", [("Location", r.raw_path)]))
    result = await registry_service.url_check(looping.url)
    assert result.error_kind is ErrorKind.REGISTRY_ERROR
    assert "redirected more than 5 times" in result.message


async def test_credentials_never_follow_a_redirect_to_another_host(
    registry_service: RegistryService, servers: Callable[..., ThreadedHttpServer]
) -> None:
    mirror = servers(lambda r: Response.json(200, {"name": "team/app", "tags": ["v1"]}, API))

    def origin(request: Request) -> Response:
        if "authorization" not in request.headers:
            return Response.json(401, {}, [("WWW-Authenticate", 'Basic realm="r"'), *API])
        if request.raw_path == "/v2/":
            return Response.json(200, {}, API)
        return Response(307, b"", [("Location", f"{mirror.url}{request.target}")])

    registry = servers(origin)
    result = await registry_service.connection_test(subject(registry.url))
    assert result.ok, result.message
    expected = "Basic " + base64.b64encode(f"carol:{SECRET}".encode()).decode()
    assert registry.requests[-1].headers.get("authorization") == expected
    assert mirror.requests and all("authorization" not in r.headers for r in mirror.requests)


async def test_token_realms_pass_the_guard_too(
    registry_service: RegistryService, servers: Callable[..., ThreadedHttpServer]
) -> None:
    challenge = 'Bearer realm="http://169.254.169.254/token",service="evil"'
    registry = servers(lambda r: Response.json(401, {}, [("WWW-Authenticate", challenge), *API]))
    result = await registry_service.connection_test(subject(registry.url))
    assert result.error_kind is ErrorKind.REFUSED_TARGET
    assert result.message.startswith("Sign-in failed: Refused to connect to 169.254.169.254")
    assert "the token service at http://169.254.169.254/token" in result.message


async def test_password_is_not_sent_to_a_plain_http_realm_of_an_https_registry(
    registry_service: RegistryService, servers: Callable[..., ThreadedHttpServer]
) -> None:
    token_service = servers(lambda r: Response.json(200, {"token": "t"}))
    ca = TestCA()
    cert = ca.issue_server()
    challenge = f'Bearer realm="{token_service.url}/token",service="s"'
    registry = servers(
        lambda r: Response.json(401, {}, [("WWW-Authenticate", challenge), *API]),
        tls=(cert.cert_pem, cert.key_pem),
    )
    result = await registry_service.connection_test(
        subject(registry.url, tls=TlsOptions(ca_bundle_pem=ca.cert_pem))
    )
    assert result.error_kind is ErrorKind.REFUSED_TARGET
    assert "refusing to send the password unencrypted" in result.message
    assert token_service.requests == []

"""Recognisable secrets pushed through every kind of failure never come back in any text."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from registry import (
    ConnectionTestResult,
    Credentials,
    ErrorKind,
    RegisteredTool,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_httpserver import (
    Request,
    Response,
    SilentServer,
    ThreadedHttpServer,
    free_port,
)
from tests.support.registry_server import RegistryServer

PASSWORD = "Pa55-SECRET-zebra-7731"
TOKEN = "TOKEN-SECRET-okapi-4242"
USER = "mallory"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
FORBIDDEN = (PASSWORD, TOKEN, BASIC, PASSWORD.lower())
API = [("Docker-Distribution-Api-Version", "registry/2.0")]
CREDS = Credentials(USER, PASSWORD)

pytestmark = pytest.mark.registry


def texts(result: ConnectionTestResult) -> list[str]:
    return [result.message, repr(result), *(step.detail for step in result.steps)]


def assert_clean(*items: str) -> None:
    for text in items:
        for secret in FORBIDDEN:
            assert secret not in text, f"secret leaked in: {text}"


def target(url: str, *, pull_only: bool = False) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.IMAGE_REGISTRY, url, "team/app", CREDS, pull_only)


@pytest.fixture
def echo_registry() -> Iterator[ThreadedHttpServer]:
    """A hostile registry: a token service that echoes the password, and a registry that
    echoes the Authorization header (and the token) in its error messages."""

    def handler(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if request.raw_path == "/token":
            if "push" in (request.arg("scope") or ""):
                return Response.json(200, {"token": TOKEN, "expires_in": 300})
            decoded = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else ""
            return Response.json(
                401, {"errors": [{"code": "DENIED", "message": f"bad {decoded} {auth}"}]}
            )
        if request.raw_path == "/v2/" and not auth:
            realm = f'Bearer realm="{server.url}/token",service="echo"'
            return Response.json(401, {}, [("WWW-Authenticate", realm), *API])
        message = f"you sent {auth} with password {PASSWORD} and token {TOKEN}"
        return Response.json(503, {"errors": [{"code": "UNAVAILABLE", "message": message}]}, API)

    server = ThreadedHttpServer(handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_echoed_secrets_are_scrubbed(
    registry_service: RegistryService, echo_registry: ThreadedHttpServer
) -> None:
    pushed = await registry_service.connection_test(target(echo_registry.url))
    assert pushed.error_kind is ErrorKind.REGISTRY_ERROR
    assert "***" in pushed.message
    assert_clean(*texts(pushed))

    refused = await registry_service.connection_test(target(echo_registry.url, pull_only=True))
    assert refused.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert_clean(*texts(refused))

    with pytest.raises(RegistryError) as caught:
        await registry_service.delete_repository(target(echo_registry.url))
    assert_clean(str(caught.value), repr(caught.value))


async def test_secrets_stay_out_of_every_failure_kind(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    results = [
        await registry_service.connection_test(target(htpasswd_registry.url)),  # wrong password
        await registry_service.connection_test(target(f"http://127.0.0.1:{free_port()}")),
        await registry_service.connection_test(target("https://no-such-registry.invalid")),
        await registry_service.connection_test(target("http://169.254.169.254")),
        await registry_service.connection_test(
            target(f"https://{USER}:{PASSWORD}@registry.example")
        ),
        await registry_service.connection_test(
            target(htpasswd_registry.url.replace("http:", "https:"))
        ),
    ]
    with SilentServer() as silent:
        results.append(await registry_service.connection_test(target(silent.url)))
    kinds = {result.error_kind for result in results}
    assert kinds == {
        ErrorKind.AUTHENTICATION_FAILED,
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.DNS_FAILURE,
        ErrorKind.REFUSED_TARGET,
        ErrorKind.INVALID_URL,
        ErrorKind.TLS_ERROR,
        ErrorKind.TIMEOUT,
    }
    for result in results:
        assert_clean(*texts(result))
    check = await registry_service.url_check(f"http://{USER}:{PASSWORD}@127.0.0.1:5000")
    assert check.error_kind is ErrorKind.INVALID_URL
    assert_clean(check.message, repr(check))


async def test_harbor_failures_keep_secrets(
    registry_service: RegistryService, harbor: HarborStandIn
) -> None:
    tool = RegisteredTool(harbor.url, CREDS)
    result = await registry_service.test_tool(tool)
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert_clean(*texts(result))
    with pytest.raises(RegistryError) as caught:
        await registry_service.create_repository(
            RepositoryTarget(RegistryType.HARBOR, harbor.url, "new/app", CREDS, False, tool=tool)
        )
    assert_clean(str(caught.value))

"""Pytest fixtures for real registries and registry stand-ins (a plugin module).

Use it with `pytest_plugins = ["tests.support.registry_fixtures"]` in the root
conftest, or `from tests.support.registry_fixtures import *` in a package conftest.

Session-scoped, shared (use a unique repository name per test, see `unique_repo`):
- `registry_ca`: the test CA (`.cert_pem`).
- `htpasswd_registry`: htpasswd auth, user `alice` / `alice-pass-1`, deletion enabled.
- `token_registry`: token auth; `pusher` (pull+push), `puller` (pull), `admin`
  (pull+push+delete), `outsider` (pull on other/* only); passwords `<user>-pass-1`.
- `tls_registry`: htpasswd (`alice`) over TLS with a certificate from `registry_ca`.
- `nodelete_registry`: htpasswd (`alice`), deletion disabled.

Per test (fresh, stopped at teardown; safe to stop/start or reconfigure):
- `registry_factory(**kwargs)`: a started `RegistryServer` (kwargs as its constructor).
- `token_registry_factory()`: a started `TokenRegistry` with the users above.
- `harbor`: the Harbor stand-in; fails the test on any swagger mismatch.
- `dockerhub`: the Docker Hub stand-in.
- `registry_config`, `registry_service`: loopback allowed, short timeouts.

Every fixture object has `.url`, `.start()` and `.stop()`; push content with
`server.client(user, password).push_image(repository, tag)`.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import RegistryConfig, RegistryService
from tests.support.certs import TestCA
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_dockerhub import DockerHubStandIn
from tests.support.registry_server import (
    HTPASSWD_USERS,
    RegistryServer,
    TokenRegistry,
    skip_or_fail_without_registry,
)
from tests.support.token_server import TokenServer, default_token_users

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def make_token_registry(ca: TestCA, workdir: Path) -> TokenRegistry:
    token_server = TokenServer(ca, users=default_token_users())
    token_server.start()
    registry = RegistryServer(workdir, token_server=token_server)
    try:
        registry.start()
    except Exception:
        token_server.stop()
        raise
    return TokenRegistry(registry, token_server)


@pytest.fixture(scope="session")
def registry_ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="session")
def registry_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registries")


@pytest.fixture(scope="session")
def htpasswd_registry(registry_workdir: Path) -> Iterator[RegistryServer]:
    skip_or_fail_without_registry()
    server = RegistryServer(registry_workdir / "htpasswd", htpasswd=HTPASSWD_USERS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def token_registry(registry_ca: TestCA, registry_workdir: Path) -> Iterator[TokenRegistry]:
    skip_or_fail_without_registry()
    pair = make_token_registry(registry_ca, registry_workdir / "token")
    try:
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="session")
def tls_registry(registry_ca: TestCA, registry_workdir: Path) -> Iterator[RegistryServer]:
    skip_or_fail_without_registry()
    server = RegistryServer(
        registry_workdir / "tls",
        htpasswd=HTPASSWD_USERS,
        tls=registry_ca.issue_server(),
        ca=registry_ca,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nodelete_registry(registry_workdir: Path) -> Iterator[RegistryServer]:
    skip_or_fail_without_registry()
    server = RegistryServer(
        registry_workdir / "nodelete", htpasswd=HTPASSWD_USERS, delete_enabled=False
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    skip_or_fail_without_registry()
    servers: list[RegistryServer] = []

    def make(**kwargs: Any) -> RegistryServer:
        server = RegistryServer(tmp_path / f"registry-{len(servers)}", **kwargs)
        servers.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def token_registry_factory(
    registry_ca: TestCA, tmp_path: Path
) -> Iterator[Callable[[], TokenRegistry]]:
    skip_or_fail_without_registry()
    made: list[TokenRegistry] = []

    def make() -> TokenRegistry:
        pair = make_token_registry(registry_ca, tmp_path / f"token-{len(made)}")
        made.append(pair)
        return pair

    try:
        yield make
    finally:
        for pair in made:
            pair.close()


@pytest.fixture
def harbor() -> Iterator[HarborStandIn]:
    standin = HarborStandIn()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
    assert not standin.violations, "Harbor swagger mismatches:\n" + "\n".join(standin.violations)


@pytest.fixture
def dockerhub(registry_ca: TestCA, tmp_path: Path) -> Iterator[DockerHubStandIn]:
    skip_or_fail_without_registry()
    hub = DockerHubStandIn(registry_ca, tmp_path)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def registry_config() -> RegistryConfig:
    return RegistryConfig(
        allowed_networks=(LOOPBACK,),
        connect_timeout=2.0,
        read_timeout=3.0,
        operation_timeout=15.0,
    )


@pytest.fixture
async def registry_service(registry_config: RegistryConfig) -> AsyncIterator[RegistryService]:
    service = RegistryService(registry_config)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses, e.g. `tests/test-push-ok-3fa2`."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40] or "repo"
    return f"tests/{stem}-{secrets.token_hex(2)}"

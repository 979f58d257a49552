"""Connection tests and URL checks against real registries (Debian's docker-registry)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry import (
    ConnectionTestResult,
    Credentials,
    ErrorKind,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.registry_server import RegistryServer, TokenRegistry

pytestmark = pytest.mark.registry

ALICE = Credentials("alice", "alice-pass-1")
PUSHER = Credentials("pusher", "pusher-pass-1")
PULLER = Credentials("puller", "puller-pass-1")


def target(
    url: str, repo: str, credentials: Credentials | None, *, pull_only: bool = False
) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.IMAGE_REGISTRY, url, repo, credentials, pull_only)


def lines(result: ConnectionTestResult) -> dict[str, tuple[bool, str]]:
    return {step.name: (step.ok, step.detail) for step in result.steps}


# -- URL Check ----------------------------------------------------------------


async def test_url_check_reports_the_auth_scheme_of_each_registry(
    registry_service: RegistryService,
    htpasswd_registry: RegistryServer,
    token_registry: TokenRegistry,
    registry_factory: Callable[..., RegistryServer],
) -> None:
    basic = await registry_service.url_check(htpasswd_registry.url)
    assert basic.ok and basic.auth_scheme == "basic" and basic.error_kind is None
    assert "username and password" in basic.message

    bearer = await registry_service.url_check(token_registry.url)
    assert bearer.ok and bearer.auth_scheme == "bearer"
    assert bearer.realm == token_registry.realm
    assert token_registry.realm in bearer.message

    open_registry = registry_factory()
    anonymous = await registry_service.url_check(open_registry.url + "/v2/")
    assert anonymous.ok and anonymous.auth_scheme == "none"
    assert "no credentials" in anonymous.message
    assert anonymous.round_trips == 1


# -- HTTP Basic (htpasswd) ----------------------------------------------------


async def test_basic_push_test_passes_and_leaves_no_upload_behind(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    htpasswd_registry.client("alice", "alice-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(
        target(htpasswd_registry.url, unique_repo, ALICE)
    )
    assert result.ok, result.message
    assert [s.name for s in result.steps] == ["reachable", "authenticated", "pull", "push"]
    assert result.error_kind is None and result.auth_scheme == "basic"
    assert "Connection test passed: pull and push allowed" in result.message
    assert "cancelled it" in lines(result)["push"][1]
    client = htpasswd_registry.client("alice", "alice-pass-1")
    assert client.upload_count(htpasswd_registry.workdir / "data", unique_repo) == 0
    assert result.round_trips == 4  # ping, tags, upload, cancel
    assert result.latency_ms > 0


async def test_basic_wrong_password_fails_at_authenticated(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    htpasswd_registry.client("alice", "alice-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(
        target(htpasswd_registry.url, unique_repo, Credentials("alice", "wrong-pass"))
    )
    assert not result.ok
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.message.startswith("Sign-in failed: ")
    assert "rejected the username or password for alice" in result.message
    assert lines(result)["reachable"][0] is True
    assert [s.skipped for s in result.steps] == [False, False, True, True]


async def test_basic_without_credentials_is_told_to_give_them(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    result = await registry_service.connection_test(
        target(htpasswd_registry.url, unique_repo, None, pull_only=True)
    )
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert "requires a username and password" in result.message
    assert [s.name for s in result.steps] == ["reachable", "authenticated", "pull"]


async def test_missing_repository_is_repository_not_found(
    registry_service: RegistryService, htpasswd_registry: RegistryServer, unique_repo: str
) -> None:
    result = await registry_service.connection_test(
        target(htpasswd_registry.url, unique_repo, ALICE, pull_only=True)
    )
    assert result.error_kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert result.message == (
        f"Pull failed: Repository {unique_repo} does not exist at {htpasswd_registry.url}."
    )
    assert lines(result)["authenticated"][0] is True


async def test_invalid_repository_name_is_reported_before_any_request(
    registry_service: RegistryService, htpasswd_registry: RegistryServer
) -> None:
    result = await registry_service.connection_test(
        target(htpasswd_registry.url, "Team/App", ALICE)
    )
    assert result.error_kind is ErrorKind.INVALID_REPOSITORY
    assert "names are lower case" in result.message
    assert result.round_trips == 0


async def test_read_only_registry_refuses_push(
    registry_service: RegistryService,
    registry_factory: Callable[..., RegistryServer],
    unique_repo: str,
) -> None:
    writable = registry_factory(htpasswd={"alice": "alice-pass-1"})
    writable.client("alice", "alice-pass-1").push_image(unique_repo)
    writable.stop()
    readonly = RegistryServer(
        writable.workdir, htpasswd={"alice": "alice-pass-1"}, readonly=True, port=writable.port
    )
    readonly.start()
    try:
        result = await registry_service.connection_test(target(readonly.url, unique_repo, ALICE))
    finally:
        readonly.stop()
    assert lines(result)["pull"][0] is True
    assert result.error_kind is ErrorKind.PERMISSION_DENIED
    assert result.message.startswith("Push failed: ")
    assert "does not accept pushes" in result.message


# -- Bearer tokens -------------------------------------------------------------


async def test_token_pusher_passes_and_the_cancel_needing_delete_is_tolerated(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(target(token_registry.url, unique_repo, PUSHER))
    assert result.ok, result.message
    assert result.auth_scheme == "bearer"
    assert lines(result)["authenticated"] == (True, f"token for pusher from {token_registry.realm}")
    assert "cancelling needs delete rights" in lines(result)["push"][1]
    assert result.round_trips == 5  # ping, token, tags, upload, cancel


async def test_token_puller_passes_a_pull_only_test_with_three_round_trips(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(
        target(token_registry.url, unique_repo, PULLER, pull_only=True)
    )
    assert result.ok, result.message
    assert [s.name for s in result.steps] == ["reachable", "authenticated", "pull"]
    assert result.round_trips == 3
    assert "Connection test passed: pull allowed" in result.message
    scopes = [r.query.get("scope") for r in token_registry.token_server.requests[-1:]]
    assert scopes == [[f"repository:{unique_repo}:pull"]], "pull-only asks for pull only"


async def test_token_puller_on_an_app_repository_is_denied_push(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(target(token_registry.url, unique_repo, PULLER))
    assert not result.ok
    assert result.error_kind is ErrorKind.PERMISSION_DENIED
    assert (
        result.message
        == f"Push failed: Permission denied: user puller may not push to {unique_repo}."
    )
    assert lines(result)["pull"][0] is True and lines(result)["authenticated"][0] is True


async def test_token_user_without_pull_is_denied_pull(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    result = await registry_service.connection_test(
        target(
            token_registry.url,
            unique_repo,
            Credentials("outsider", "outsider-pass-1"),
            pull_only=True,
        )
    )
    assert result.error_kind is ErrorKind.PERMISSION_DENIED
    assert result.message.startswith("Pull failed: Permission denied: user outsider may not pull")


async def test_token_wrong_password_is_authentication_failed_naming_the_realm(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    result = await registry_service.connection_test(
        target(token_registry.url, unique_repo, Credentials("pusher", "nope"))
    )
    assert result.error_kind is ErrorKind.AUTHENTICATION_FAILED
    assert result.message.startswith("Sign-in failed: ")
    assert (
        f"token service at {token_registry.realm} rejected the username or password"
        in result.message
    )


async def test_token_is_reused_until_expiry_but_not_across_passwords(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    good = target(token_registry.url, unique_repo, PULLER, pull_only=True)
    first = await registry_service.connection_test(good)
    second = await registry_service.connection_test(good)
    assert first.ok and second.ok
    assert second.round_trips == first.round_trips - 1, "the cached token saves the token request"
    assert "(cached)" in lines(second)["authenticated"][1]
    wrong = await registry_service.connection_test(
        target(token_registry.url, unique_repo, Credentials("puller", "changed"), pull_only=True)
    )
    assert wrong.error_kind is ErrorKind.AUTHENTICATION_FAILED


# -- down, then up -------------------------------------------------------------


async def test_registry_stopped_then_started_again(
    registry_service: RegistryService,
    registry_factory: Callable[..., RegistryServer],
    unique_repo: str,
) -> None:
    server = registry_factory(htpasswd={"alice": "alice-pass-1"})
    server.client("alice", "alice-pass-1").push_image(unique_repo)
    subject = target(server.url, unique_repo, ALICE)
    assert (await registry_service.connection_test(subject)).ok

    server.stop()
    down = await registry_service.connection_test(subject)
    assert down.error_kind is ErrorKind.CONNECTION_REFUSED
    assert down.message == (
        f"Not reachable: Connection refused by the registry at {server.url}: "
        f"nothing is listening on 127.0.0.1:{server.port}."
    )
    check = await registry_service.url_check(server.url)
    assert not check.ok and check.error_kind is ErrorKind.CONNECTION_REFUSED

    server.start()
    assert (await registry_service.connection_test(subject)).ok


async def test_registry_stopped_in_the_middle_of_a_test(
    registry_service: RegistryService,
    token_registry_factory: Callable[[], TokenRegistry],
    unique_repo: str,
) -> None:
    pair = token_registry_factory()
    pair.client("admin", "admin-pass-1").push_image(unique_repo)
    pair.token_server.before_token = pair.registry.stop  # dies after the ping, before the pull
    result = await registry_service.connection_test(target(pair.url, unique_repo, PUSHER))
    assert [(s.name, s.ok) for s in result.steps][:2] == [
        ("reachable", True),
        ("authenticated", True),
    ]
    assert result.error_kind is ErrorKind.CONNECTION_REFUSED
    assert result.message.startswith("Pull failed: Connection refused by the registry")


async def test_token_service_down_names_the_realm(
    registry_service: RegistryService,
    token_registry_factory: Callable[[], TokenRegistry],
    unique_repo: str,
) -> None:
    pair = token_registry_factory()
    pair.token_server.stop()
    result = await registry_service.connection_test(target(pair.url, unique_repo, PUSHER))
    assert result.error_kind is ErrorKind.CONNECTION_REFUSED
    assert result.message.startswith(
        f"Sign-in failed: Connection refused by the token service at {pair.realm}"
    )

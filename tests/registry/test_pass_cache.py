"""Connection tests sharing a re-check pass's pings and tokens (`registry.pass_cache`),
against real docker-registry servers and the token server: one request where many
entries ask at once, a refused shared token request falls back to each entry's own,
and what the pass keeps ages like the registry says (failed pings, token lifetimes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry import (
    STEP_PULL,
    STEP_REACHABLE,
    ConnectionTestResult,
    Credentials,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from registry.pass_cache import FAILED_PING_REUSE, PassCache
from registry.results import step_failed
from tests.support.certs import TestCA
from tests.support.registry_server import (
    RegistryServer,
    TokenRegistry,
    skip_or_fail_without_registry,
)
from tests.support.token_server import TokenServer, default_token_users

pytestmark = pytest.mark.registry

ALICE = Credentials("alice", "alice-pass-1")
PUSHER = Credentials("pusher", "pusher-pass-1")
PULLER = Credentials("puller", "puller-pass-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def target(
    url: str, repo: str, credentials: Credentials, *, pull_only: bool = True
) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.IMAGE_REGISTRY, url, repo, credentials, pull_only)


def total_round_trips(results: list[ConnectionTestResult], shared: PassCache) -> int:
    return sum(r.round_trips for r in results) + shared.stats.round_trips


@pytest.fixture
def strict_pair(registry_ca: TestCA, tmp_path: Path) -> Iterator[TokenRegistry]:
    """A token server that refuses a whole request when push is asked of an account
    that may not push (Docker Hub's read-only tokens), and its registry."""
    skip_or_fail_without_registry()
    token_server = TokenServer(registry_ca, users=default_token_users(), strict_push=True)
    token_server.start()
    pair = TokenRegistry(
        RegistryServer(tmp_path / "strict", token_server=token_server), token_server
    )
    try:
        pair.registry.start()
        yield pair
    finally:
        pair.close()


async def test_fifty_tests_at_once_share_one_ping_and_one_token_request(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    pusher = token_registry.registry.client("pusher", "pusher-pass-1")
    repos = [f"{unique_repo}-{i}" for i in range(5)]
    for repo in repos:
        pusher.push_image(repo)
    shared = PassCache()
    asked_before = len(token_registry.token_server.requests)

    results = await asyncio.gather(
        *(
            registry_service.connection_test(
                target(token_registry.url, repos[i % 5], PUSHER), shared
            )
            for i in range(50)
        )
    )

    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    asked = token_registry.token_server.requests[asked_before:]
    assert len(asked) == 1  # not one per test: one request, one scope per repository
    assert sorted(asked[0].query["scope"]) == sorted(f"repository:{r}:pull" for r in repos)
    assert total_round_trips(results, shared) == 1 + 1 + 50  # ping, token, 50 tags lists
    assert "one request for this re-check's repositories" in results[0].steps[1].detail
    shared.close()


async def test_a_refused_shared_request_falls_back_to_each_entrys_own_answer(
    registry_service: RegistryService, strict_pair: TokenRegistry, unique_repo: str
) -> None:
    pusher = strict_pair.registry.client("pusher", "pusher-pass-1")
    for i in range(3):
        pusher.push_image(f"{unique_repo}-{i}")
    shared = PassCache()
    targets = [
        target(strict_pair.url, f"{unique_repo}-{i}", PULLER, pull_only=False) for i in range(3)
    ] + [target(strict_pair.url, f"{unique_repo}-0", PULLER, pull_only=True)]

    results = await asyncio.gather(*(registry_service.connection_test(t, shared) for t in targets))

    # The read-only account's app entries: pull proven, push refused, each on its own;
    # its pull-only entry passes although the shared request (asking push) was refused.
    for result in results[:3]:
        assert not result.ok and result.error_kind == "permission_denied"
        steps = {s.name: s for s in result.steps}
        assert steps["pull"].ok and not steps["push"].ok
        assert "refused push access" in steps["push"].detail
    assert results[3].ok, results[3].message
    shared.close()


async def test_a_failed_ping_is_shared_for_a_few_seconds_then_asked_again(
    registry_service: RegistryService, registry_factory: Callable[..., RegistryServer]
) -> None:
    server = registry_factory(htpasswd={"alice": "alice-pass-1"})
    server.client("alice", "alice-pass-1").push_image("team/api")
    clock = Clock()
    shared = PassCache(clock=clock)
    entry = target(server.url, "team/api", ALICE)
    server.stop()

    first = await registry_service.connection_test(entry, shared)
    server.start()
    clock.now += FAILED_PING_REUSE / 2
    second = await registry_service.connection_test(entry, shared)
    clock.now += FAILED_PING_REUSE
    third = await registry_service.connection_test(entry, shared)

    assert first.error_kind == second.error_kind == "connection_refused"
    assert second.message == first.message and second.round_trips == 0  # reused, not asked
    assert third.ok, third.message  # asked again: a blip does not fail a whole pass
    shared.close()


async def test_a_registry_gone_mid_pass_fails_the_later_entries_as_not_reachable(
    registry_service: RegistryService, registry_factory: Callable[..., RegistryServer]
) -> None:
    server = registry_factory(htpasswd={"alice": "alice-pass-1"})
    server.client("alice", "alice-pass-1").push_image("team/api")
    clock = Clock()
    shared = PassCache(clock=clock)
    entry = target(server.url, "team/api", ALICE)

    before = await registry_service.connection_test(entry, shared)
    server.stop()
    finder = await registry_service.connection_test(entry, shared)  # its pull is refused
    later = await registry_service.connection_test(entry, shared)
    server.start()
    clock.now += FAILED_PING_REUSE + 1
    back = await registry_service.connection_test(entry, shared)

    assert before.ok, before.message
    assert finder.error_kind == later.error_kind == "connection_refused"
    assert finder.message.startswith(step_failed(STEP_PULL))
    # The entries after it: the shared cause, at the step that says so, nothing asked.
    assert later.message.startswith(step_failed(STEP_REACHABLE)), later.message
    assert later.round_trips == 0 and later.steps[0].name == STEP_REACHABLE
    assert back.ok, back.message  # asked again after a few seconds, like a failed ping
    shared.close()


async def test_a_token_that_runs_out_during_the_pass_is_asked_for_again(
    registry_service: RegistryService, token_registry: TokenRegistry, unique_repo: str
) -> None:
    token_registry.registry.client("pusher", "pusher-pass-1").push_image(unique_repo)
    clock = Clock()
    shared = PassCache(clock=clock)
    entry = target(token_registry.url, unique_repo, PUSHER)
    requests = token_registry.token_server.requests
    before = len(requests)

    assert (await registry_service.connection_test(entry, shared)).ok
    assert (await registry_service.connection_test(entry, shared)).ok
    assert len(requests) == before + 1  # the second test reused the pass's token
    clock.now += token_registry.token_server.lifetime  # past its expiry
    assert (await registry_service.connection_test(entry, shared)).ok
    assert len(requests) == before + 2
    shared.close()


async def test_a_token_for_one_registry_never_serves_another_behind_the_same_realm(
    registry_service: RegistryService, registry_ca: TestCA, tmp_path: Path
) -> None:
    skip_or_fail_without_registry()
    token_server = TokenServer(registry_ca, users=default_token_users())
    token_server.start()
    first = RegistryServer(tmp_path / "first", token_server=token_server)
    second = RegistryServer(tmp_path / "second", token_server=token_server)
    try:
        for server in (first, second):
            server.start()
            server.client("pusher", "pusher-pass-1").push_image("team/api")
        shared = PassCache()
        before = len(token_server.requests)

        results = await asyncio.gather(
            *(
                registry_service.connection_test(target(server.url, "team/api", PUSHER), shared)
                for server in (first, second, first, second)
            )
        )

        assert all(r.ok for r in results), [r.message for r in results]
        # Same realm, service, account and repository: still one token per registry,
        # each asked for by that registry's own entries (and one ping each).
        assert len(token_server.requests) == before + 2
        assert shared.pings == 2 and shared.token_requests == 2
        shared.close()
    finally:
        first.stop()
        second.stop()
        token_server.stop()


async def test_many_repositories_of_one_credential_go_in_token_requests_of_bounded_size(
    registry_service: RegistryService, token_registry: TokenRegistry
) -> None:
    # 120 repositories with 180-character names: one request would be a 27 KB URL.
    names = [f"team/{'x' * 170}-{i:03d}" for i in range(120)]
    shared = PassCache()
    requests = token_registry.token_server.requests
    before = len(requests)

    results = await asyncio.gather(
        *(
            registry_service.connection_test(target(token_registry.url, n, PUSHER), shared)
            for n in names
        )
    )

    # Not pushed: each entry gets its own "does not exist", none a token error.
    assert {r.error_kind for r in results} == {"repository_not_found"}
    asked = requests[before:]
    assert 3 <= len(asked) <= 5  # split by URL size (8 KB), not one request per entry
    assert all(len(r.target) <= 8000 for r in asked), [len(r.target) for r in asked]
    scopes = [s for r in asked for s in r.query["scope"]]
    assert sorted(scopes) == sorted(f"repository:{n}:pull" for n in names)
    shared.close()

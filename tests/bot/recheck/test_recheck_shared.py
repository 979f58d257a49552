"""A scheduled pass asks each registry's `/v2/` once and each token realm once per
credential (issue #24), against real docker-registry servers (htpasswd and token auth),
while every entry keeps its own result: a forbidden repository fails alone, a registry
that is down fails only its own entries, a pinned realm is still enforced, and the
next pass asks again (nothing is kept from one pass to the next)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.recheck import PassStats, RecheckConfig, Rechecker
from bot.runtime import Runtime
from registry import RegistryConfig, RegistryService
from storage.db import transaction
from storage.models import ConnectionCheck, ImageRepository, utcnow
from tests.bot.recheck import seed
from tests.support.certs import TestCA
from tests.support.registry_fixtures import LOOPBACK
from tests.support.registry_server import (
    RegistryServer,
    TokenRegistry,
    skip_or_fail_without_registry,
)
from tests.support.token_server import TokenServer, TokenUser

pytestmark = pytest.mark.registry

USER, PASSWORD = "ci", "ci-pass-1"
ADMIN, ADMIN_PASSWORD = "admin", "admin-pass-1"
APPS = 12


@pytest.fixture
async def shards() -> AsyncIterator[list[RegistryService]]:
    """Three re-check shards of one instance, as `registry_shards` makes them."""
    config = RegistryConfig(
        allowed_networks=(LOOPBACK,), connect_timeout=2.0, read_timeout=5.0, operation_timeout=20.0
    )
    services = [RegistryService(config) for _ in range(3)]
    try:
        yield services
    finally:
        for service in services:
            await service.aclose()


@pytest.fixture
def token_pair(tmp_path: Path) -> Iterator[TokenRegistry]:
    """A token-auth registry whose `ci` account may pull `team/app-*` and nothing else."""
    skip_or_fail_without_registry()
    users = {
        USER: TokenUser(PASSWORD, {"team/app-*": {"pull"}}),
        ADMIN: TokenUser(ADMIN_PASSWORD, {"*": {"pull", "push", "delete"}}),
    }
    token_server = TokenServer(TestCA(), users=users)
    token_server.start()
    registry = RegistryServer(tmp_path / "token", token_server=token_server)
    pair = TokenRegistry(registry, token_server)
    try:
        registry.start()
        yield pair
    finally:
        pair.close()


def rechecker(runtime: Runtime, shards: list[RegistryService]) -> Rechecker:
    # Concurrency above the entry count: one claim takes every entry, so the figures
    # below do not depend on how the claims happen to interleave with the tests.
    config = replace(RecheckConfig.from_settings(runtime.settings, env={}), concurrency=40)
    return Rechecker(runtime, config, owner="it", registries=shards)


async def run_pass(runtime: Runtime, rc: Rechecker) -> PassStats:
    async with transaction(runtime.sessions) as session:
        await session.execute(update(ImageRepository).values(next_check_at=utcnow()))
    return await rc.run_due()


async def last_checks(runtime: Runtime) -> dict[str, ConnectionCheck]:
    """Repository name (and registry) -> its newest check."""
    async with runtime.sessions() as session:
        rows = {r.id: r for r in await session.scalars(select(ImageRepository))}
        checks = list(await session.scalars(select(ConnectionCheck).order_by(ConnectionCheck.id)))
    out: dict[str, ConnectionCheck] = {}
    for check in checks:
        row = rows[check.repository_id]
        out[f"{row.registry_url} {row.repository}"] = check
    return out


async def test_one_forbidden_repository_among_many_on_one_credential_fails_alone(
    runtime: Runtime, shards: list[RegistryService], token_pair: TokenRegistry
) -> None:
    admin = token_pair.registry.client(ADMIN, ADMIN_PASSWORD)
    for i in range(APPS):
        admin.push_image(f"team/app-{i}")
    admin.push_image("team/secret")
    project_id = await seed.project(runtime.sessions, channel_id="C-TEAM")
    for template, count in (("team/app-{i}", APPS), ("team/secret", 1)):
        await seed.repositories(
            runtime.sessions,
            runtime.box,
            project_id=project_id,
            registry_url=token_pair.url,
            count=count,
            repository=template,
            username=USER,
            secret=PASSWORD,
        )
    token_server = token_pair.token_server
    asked_before = len(token_server.requests)

    stats = await run_pass(runtime, rechecker(runtime, shards))

    assert stats.recorded == APPS + 1 and stats.healthy == APPS and stats.failing == 1, stats
    checks = await last_checks(runtime)
    secret = checks[f"{token_pair.url} team/secret"]
    assert not secret.ok and secret.error_kind == "permission_denied"
    assert "may not pull from team/secret" in secret.message
    assert all(c.ok for key, c in checks.items() if "team/app-" in key)
    # One token request for all 13 repositories (13 scope parameters), then one for the
    # forbidden repository alone; before the pass cache: 13 token requests and 13 pings.
    asked = token_server.requests[asked_before:]
    assert [len(r.query["scope"]) for r in asked] == [APPS + 1, 1]
    assert asked[1].query["scope"] == ["repository:team/secret:pull"]
    # Registry: one ping, 13 tags lists, the forbidden one's second tags list; realm: 2.
    assert stats.round_trips == 1 + (APPS + 1) + 1 + 2


async def test_a_pass_pings_each_registry_once_and_then_one_request_per_entry(
    runtime: Runtime,
    shards: list[RegistryService],
    registry_factory: Callable[..., RegistryServer],
) -> None:
    first = registry_factory(htpasswd={USER: PASSWORD})
    second = registry_factory(htpasswd={USER: PASSWORD})
    project_id = await seed.project(runtime.sessions, channel_id="C-TEAM")
    for server in (first, second):
        pusher = server.client(USER, PASSWORD)
        for i in range(3):
            pusher.push_image(f"team/app-{i}")
        await seed.repositories(
            runtime.sessions,
            runtime.box,
            project_id=project_id,
            registry_url=server.url,
            count=15,
            repository="team/app-{i}",
            username=USER,
            secret=PASSWORD,
        )
    rc = rechecker(runtime, shards)

    stats = await run_pass(runtime, rc)

    # team/app-0..2 exist on each registry, 3..14 do not: every entry gets its own result.
    assert stats.recorded == 30 and stats.healthy == 6 and stats.failing == 24, stats
    checks = await last_checks(runtime)
    for server in (first, second):
        assert checks[f"{server.url} team/app-1"].ok
        missing = checks[f"{server.url} team/app-7"]
        assert missing.error_kind == "repository_not_found"
        assert f"team/app-7 does not exist at {server.url}" in missing.message
    # One ping per registry (a ping of one origin never serves the other), then one tags
    # list per entry: 32 requests, where every entry pinged for itself before (60).
    assert stats.round_trips == 2 + 30
    assert stats.shared_requests == 2

    again = await run_pass(runtime, rc)  # a new pass asks again: nothing outlives a pass
    assert again.recorded == 30 and again.round_trips == 32 and again.shared_requests == 2


async def test_a_registry_down_fails_its_own_entries_with_one_shared_cause(
    runtime: Runtime,
    shards: list[RegistryService],
    registry_factory: Callable[..., RegistryServer],
) -> None:
    up = registry_factory(htpasswd={USER: PASSWORD})
    down = registry_factory(htpasswd={USER: PASSWORD})
    for server in (up, down):
        for i in range(4):
            server.client(USER, PASSWORD).push_image(f"team/app-{i}")
    project_id = await seed.project(runtime.sessions, channel_id="C-TEAM")
    for server in (up, down):
        await seed.repositories(
            runtime.sessions,
            runtime.box,
            project_id=project_id,
            registry_url=server.url,
            count=4,
            repository="team/app-{i}",
            username=USER,
            secret=PASSWORD,
        )
    down.stop()
    rc = rechecker(runtime, shards)

    stats = await run_pass(runtime, rc)

    assert stats.recorded == 8 and stats.healthy == 4 and stats.failing == 4, stats
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(ImageRepository)))
        checks = list(await session.scalars(select(ConnectionCheck)))
    by_row = {c.repository_id: c for c in checks}
    failed = [by_row[r.id] for r in rows if r.registry_url == down.url]
    assert {c.error_kind for c in failed} == {"connection_refused"}
    assert len({c.message for c in failed}) == 1  # the same cause, worded once
    assert down.url.removeprefix("http://") in failed[0].message
    assert all(by_row[r.id].ok for r in rows if r.registry_url == up.url)

    down.start()
    again = await run_pass(runtime, rc)  # the failed ping is not kept for the next pass
    assert again.recorded == 8 and again.healthy == 8, again


async def test_an_entry_pinned_to_another_realm_is_refused_and_left_out_of_the_token_request(
    runtime: Runtime, shards: list[RegistryService], token_pair: TokenRegistry
) -> None:
    admin = token_pair.registry.client(ADMIN, ADMIN_PASSWORD)
    for i in range(3):
        admin.push_image(f"team/app-{i}")
    project_id = await seed.project(runtime.sessions, channel_id="C-TEAM")
    ids = await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=token_pair.url,
        count=3,
        repository="team/app-{i}",
        username=USER,
        secret=PASSWORD,
    )
    registry_origin = token_pair.url
    async with transaction(runtime.sessions) as session:
        await session.execute(
            update(ImageRepository)
            .where(ImageRepository.id == ids[2])
            .values(
                pinned_registry_origin=registry_origin,
                pinned_realm_origin="http://127.0.0.1:9",  # the realm it was saved with
            )
        )
    token_server = token_pair.token_server
    asked_before = len(token_server.requests)

    stats = await run_pass(runtime, rechecker(runtime, shards))

    assert stats.recorded == 3 and stats.healthy == 2 and stats.failing == 1, stats
    checks = await last_checks(runtime)
    pinned = checks[f"{token_pair.url} team/app-2"]
    assert pinned.error_kind == "origin_changed"
    assert "the saved password was not sent" in pinned.message
    scopes = [s for r in token_server.requests[asked_before:] for s in r.query["scope"]]
    assert sorted(scopes) == ["repository:team/app-0:pull", "repository:team/app-1:pull"]

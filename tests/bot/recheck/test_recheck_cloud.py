"""Scheduled re-checks of many Amazon ECR entries: one GetAuthorizationToken per
credential and region per token lifetime, across re-check shards, and a new one once
80 % of the token's lifetime has passed (simulated clock), never the old one reused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.recheck import RecheckConfig, Rechecker
from bot.runtime import Runtime
from registry import RegistryConfig, RegistryService
from registry.minting import MintCache
from storage.db import transaction
from storage.models import ImageRepository, utcnow
from tests.bot.recheck import seed
from tests.support.cloud_ecr import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    EcrStandIn,
    ecr,  # noqa: F401 - the fixture
)
from tests.support.registry_fixtures import LOOPBACK

pytestmark = pytest.mark.registry

ENTRIES = 40
START = datetime(2014, 12, 31, 12, 0, tzinfo=UTC)  # moto's token expires 12 h later


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def shards() -> AsyncIterator[list[RegistryService]]:
    minting = MintCache(clock=Clock())
    config = RegistryConfig(allowed_networks=(LOOPBACK,), operation_timeout=30.0, aws_region=REGION)
    services = [RegistryService(config, minting) for _ in range(3)]
    try:
        yield services
    finally:
        for service in services:
            await service.aclose()


async def test_many_ecr_entries_mint_once_per_token_lifetime(
    runtime: Runtime,
    shards: list[RegistryService],
    ecr: EcrStandIn,  # noqa: F811
) -> None:
    pusher = ecr.registry.client("AWS", ecr.password)
    for i in range(4):
        pusher.push_image(f"team/app-{i}")
    project_id = await seed.project(runtime.sessions, channel_id="C-ECR")
    await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=ecr.registry.url,
        count=ENTRIES,
        repository="team/app-{i}",
        username=ACCESS_KEY_ID,
        secret=SECRET_ACCESS_KEY,
        registry_type="ecr",
    )
    config = replace(RecheckConfig.from_settings(runtime.settings, env={}), concurrency=20)
    rechecker = Rechecker(runtime, config, owner="it", registries=shards)

    async def one_pass() -> None:
        async with transaction(runtime.sessions) as session:
            await session.execute(update(ImageRepository).values(next_check_at=utcnow()))
        stats = await rechecker.run_due()
        assert stats.recorded == ENTRIES, stats

    await one_pass()
    assert ecr.calls["GetAuthorizationToken"] == 1  # 40 entries, 3 shards: one token

    await one_pass()
    assert ecr.calls["GetAuthorizationToken"] == 1  # still fresh: reused

    clock = shards[0].minting.clock
    assert isinstance(clock, Clock)
    clock.now = START + timedelta(hours=10)  # past 80 % of the token's 12 h
    await one_pass()
    assert ecr.calls["GetAuthorizationToken"] == 2  # minted again, once for all 40

    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(ImageRepository)))
    authenticated = [r for r in rows if r.last_error_kind in (None, "repository_not_found")]
    assert len(authenticated) == ENTRIES  # every entry got past authentication
    assert sum(r.health == "healthy" for r in rows) == 4  # the four pushed repositories

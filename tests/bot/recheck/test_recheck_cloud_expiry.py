"""Scheduled re-checks of Google Artifact Registry and Azure Container Registry entries
for longer than their minted credentials live (simulated clock): one mint per credential
for every entry and shard while the token is fresh, and a new mint, counted at the
stand-in, once it has expired; the old token is never reused.

The stand-ins make reuse visible: each new GAR access token / ACR refresh token
replaces the previous one at the registry's token server, so only the newest works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
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
from tests.support.cloud_acr import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    AcrSetup,
    acr,  # noqa: F401 - the fixture
)
from tests.support.cloud_gar import (
    LOCATION,
    SEED_PASSWORD,
    GarSetup,
    gar,  # noqa: F401 - the fixture
)
from tests.support.registry_fixtures import LOOPBACK

pytestmark = pytest.mark.registry

ENTRIES = 12
PUSHED = 3


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def shards_for(config: RegistryConfig, clock: Clock) -> list[RegistryService]:
    """Three re-check shards of one instance, sharing its mint cache as production does."""
    minting = MintCache(clock=clock)
    return [RegistryService(config, minting) for _ in range(3)]


async def passes(
    runtime: Runtime, shards: list[RegistryService]
) -> Callable[[], Awaitable[list[ImageRepository]]]:
    config = replace(RecheckConfig.from_settings(runtime.settings, env={}), concurrency=6)
    rechecker = Rechecker(runtime, config, owner="it", registries=shards)

    async def one_pass() -> list[ImageRepository]:
        """Every entry due now, one scheduled pass; the rows as it left them."""
        async with transaction(runtime.sessions) as session:
            await session.execute(update(ImageRepository).values(next_check_at=utcnow()))
        stats = await rechecker.run_due()
        assert stats.recorded == ENTRIES, stats
        async with runtime.sessions() as session:
            return list(await session.scalars(select(ImageRepository)))

    return one_pass


def healthy(rows: list[ImageRepository]) -> int:
    return sum(r.health == "healthy" for r in rows)


@pytest.fixture
async def closing() -> AsyncIterator[list[RegistryService]]:
    services: list[RegistryService] = []
    yield services
    for service in services:
        await service.aclose()


async def test_gar_access_token_minted_again_after_its_hour(
    runtime: Runtime,
    gar: GarSetup,  # noqa: F811
    closing: list[RegistryService],
) -> None:
    pusher = gar.registry.client("seed", SEED_PASSWORD)
    for i in range(PUSHED):
        pusher.push_image(f"acme-prod/docker/app-{i}")
    project_id = await seed.project(runtime.sessions, channel_id="C-GAR")
    await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=gar.registry.url,
        count=ENTRIES,
        repository="acme-prod/docker/app-{i}",
        username="_json_key",
        secret=gar.google.key_json(),
        registry_type="gar",
    )
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    clock = Clock(start)
    config = RegistryConfig(
        allowed_networks=(LOOPBACK,),
        operation_timeout=30.0,
        google_api_url=gar.api_url,
        google_location=LOCATION,
    )
    closing.extend(shards_for(config, clock))
    one_pass = await passes(runtime, closing)

    assert healthy(await one_pass()) == PUSHED
    assert len(gar.google.minted) == 1  # 12 entries, 3 shards: one access token

    clock.now = start + timedelta(minutes=40)  # under 80 % of the hour: the same token
    assert healthy(await one_pass()) == PUSHED
    assert len(gar.google.minted) == 1

    for hours in (1, 2, 3):  # re-checks for three hours: a new token each hour
        clock.now = start + timedelta(hours=hours, minutes=10)
        rows = await one_pass()
        assert len(gar.google.minted) == 1 + hours, "an expired token was reused"
        assert healthy(rows) == PUSHED, [r.last_message for r in rows]
        # Entries not pushed yet got past sign-in with the new token, too.
        assert {r.last_error_kind for r in rows} <= {None, "repository_not_found"}


async def test_acr_refresh_token_exchanged_again_after_it_expires(
    runtime: Runtime,
    acr: AcrSetup,  # noqa: F811
    closing: list[RegistryService],
) -> None:
    for i in range(PUSHED):
        acr.push(f"team/app-{i}")
    project_id = await seed.project(runtime.sessions, channel_id="C-ACR")
    await seed.repositories(
        runtime.sessions,
        runtime.box,
        project_id=project_id,
        registry_url=acr.url,
        count=ENTRIES,
        repository="team/app-{i}",
        username=f"{TENANT}/{CLIENT_ID}",
        secret=CLIENT_SECRET,
        registry_type="acr",
    )
    # The refresh token's lifetime is its JWT `exp`: 3 h after the (simulated) exchange.
    start = datetime.now(UTC)
    clock = Clock(start)
    acr.front.now = lambda: clock.now.timestamp()
    config = RegistryConfig(
        allowed_networks=(LOOPBACK,), operation_timeout=30.0, azure_authority=acr.url
    )
    closing.extend(shards_for(config, clock))
    one_pass = await passes(runtime, closing)

    assert healthy(await one_pass()) == PUSHED
    assert (acr.front.entra_calls, acr.front.exchanges) == (1, 1)

    clock.now = start + timedelta(hours=2)  # 67 % of 3 h: reused
    assert healthy(await one_pass()) == PUSHED
    assert (acr.front.entra_calls, acr.front.exchanges) == (1, 1)

    clock.now = start + timedelta(hours=3, minutes=5)  # past its exp: exchanged again, once
    rows = await one_pass()
    assert (acr.front.entra_calls, acr.front.exchanges) == (2, 2), "an expired token was reused"
    assert healthy(rows) == PUSHED, [r.last_message for r in rows]
    assert {r.last_error_kind for r in rows} <= {None, "repository_not_found"}

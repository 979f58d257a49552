"""Wall time and HTTP round trips of a Connection Test against local registries.

Starts Debian's `docker-registry` twice (HTTP Basic via htpasswd, and Bearer
tokens from the test token server), pushes one small image, then runs the
Connection Test of `RegistryService` many times per scenario:

- cold: a new service per run (new TCP connections, no cached token), as the
  first test after saving a repository;
- warm: one service for all runs (pooled connections, tokens cached until expiry),
  as back-to-back tests of the same repository.

Round trips are compared with the minimum the protocol needs: ping `/v2/`, a
token when the registry uses Bearer tokens, and one access check per permission
(tags list for pull, starting a blob upload for push).  Our extra round trip on
push tests is the DELETE that cancels the upload so nothing is left behind.

Run: `.venv/bin/python bench/connection_test.py [--runs 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry import (
    Credentials,
    RegistryConfig,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.certs import TestCA
from tests.support.registry_server import HTPASSWD_USERS, RegistryServer
from tests.support.token_server import TokenServer, default_token_users

REPOSITORY = "bench/app"


@dataclass
class Scenario:
    name: str
    url: str
    credentials: Credentials
    pull_only: bool
    bearer: bool

    @property
    def minimum(self) -> int:
        return 1 + (1 if self.bearer else 0) + (1 if self.pull_only else 2)

    def target(self) -> RepositoryTarget:
        return RepositoryTarget(
            RegistryType.IMAGE_REGISTRY, self.url, REPOSITORY, self.credentials, self.pull_only
        )


@dataclass
class Figures:
    scenario: Scenario
    mode: str
    latencies: list[float]
    round_trips: int

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def measure(config: RegistryConfig, scenario: Scenario, runs: int, warm: bool) -> Figures:
    latencies: list[float] = []
    trips: set[int] = set()
    shared = RegistryService(config) if warm else None
    try:
        if shared is not None:  # one untimed run fills the pool and the token cache
            assert (await shared.connection_test(scenario.target())).ok
        for _ in range(runs):
            service = shared or RegistryService(config)
            try:
                result = await service.connection_test(scenario.target())
            finally:
                if shared is None:
                    await service.aclose()
            assert result.ok, result.message
            latencies.append(result.latency_ms)
            trips.add(result.round_trips)
    finally:
        if shared is not None:
            await shared.aclose()
    assert len(trips) == 1, f"round trips vary: {sorted(trips)}"
    return Figures(scenario, "warm" if warm else "cold", latencies, trips.pop())


async def run_all(runs: int, scenarios: list[Scenario]) -> list[Figures]:
    config = RegistryConfig(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    out = []
    for scenario in scenarios:
        for warm in (False, True):
            out.append(await measure(config, scenario, runs, warm))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per scenario and mode")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-connection-"))
    ca = TestCA()
    token_server = TokenServer(ca, users=default_token_users())
    basic = RegistryServer(work / "basic", htpasswd=HTPASSWD_USERS)
    bearer = RegistryServer(work / "bearer", token_server=token_server)
    token_server.start()
    basic.start()
    bearer.start()
    try:
        basic.client("alice", "alice-pass-1").push_image(REPOSITORY)
        bearer.client("admin", "admin-pass-1").push_image(REPOSITORY)
        alice = Credentials("alice", "alice-pass-1")
        scenarios = [
            Scenario("Basic, pull+push", basic.url, alice, False, False),
            Scenario("Basic, pull-only", basic.url, alice, True, False),
            Scenario(
                "Bearer, pull+push", bearer.url, Credentials("pusher", "pusher-pass-1"), False, True
            ),
            Scenario(
                "Bearer, pull-only", bearer.url, Credentials("puller", "puller-pass-1"), True, True
            ),
        ]
        figures = asyncio.run(run_all(args.runs, scenarios))
    finally:
        bearer.stop()
        basic.stop()
        token_server.stop()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, {args.runs} timed runs per row"
    )
    print(
        f"{'scenario':<20} {'mode':<5} {'median ms':>9} {'p95 ms':>7} {'round trips':>11} "
        f"{'minimum':>7} {'ratio':>5}"
    )
    for row in figures:
        print(
            f"{row.scenario.name:<20} {row.mode:<5} {row.median:>9.1f} {row.p95:>7.1f} "
            f"{row.round_trips:>11} {row.scenario.minimum:>7} "
            f"{row.round_trips / row.scenario.minimum:>5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

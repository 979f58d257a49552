"""Benchmark of a full scheduled re-check pass (bench/README.md has the figures).

N saved connections (N = 1,000 and 10,000) on a real registry (Debian's
docker-registry, htpasswd auth) behind a loopback proxy that adds 50 ms to every
round trip; PostgreSQL on 127.0.0.1:5432. Each measured instance is its own
process (`--worker`), so its peak RSS is its own, and runs exactly what `serve`
runs for a pass (bot.recheck.Rechecker: leased claims, connection tests at
concurrency 50, results written through health.apply_result).

Printed per run: the time for the full pass, the floor N x round trips x
latency / (concurrency x instances), their ratio, peak RSS, and for two
instances the speed-up over one. Everything is loopback; each worker is killed
if it runs past WORKER_TIMEOUT, so the whole bench stays within a few minutes.

    .venv/bin/python bench/recheck.py            # N = 1000 and 10000
    .venv/bin/python bench/recheck.py --n 2000   # other sizes
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
CONCURRENCY = 50
REPOSITORIES = 100  # distinct repositories pushed; N connections spread over N / 100 projects
USER, PASSWORD = "bench", "bench-pass-1"
WORKER_TIMEOUT = 150.0
SHARDED = os.environ.get("BENCH_ONE_POOL", "") == ""  # BENCH_ONE_POOL=1: the runtime's client


@dataclass
class Run:
    n: int
    instances: int
    seconds: float
    recorded: int
    round_trips: int
    rss_mb: list[float]
    not_recorded: int

    @property
    def floor(self) -> float:
        per_test = self.round_trips / max(self.recorded, 1)
        return self.n * per_test * LATENCY / (CONCURRENCY * self.instances)

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor if self.floor else float("inf")


# -- one measured instance ----------------------------------------------------------------


async def _worker(database_url: str, key: str, start_at: float) -> dict[str, float]:
    from bot.recheck import RecheckConfig, Rechecker, registry_shards
    from bot.runtime import Runtime
    from bot.settings import Settings

    settings = Settings(
        database_url=database_url,
        secret_keys=(key,),
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        recheck_concurrency=CONCURRENCY,
    )
    rt = Runtime.create(settings)
    shards = registry_shards(settings, CONCURRENCY) if SHARDED else None
    rechecker = Rechecker(rt, RecheckConfig.from_settings(settings, env={}), registries=shards)
    if os.environ.get("BENCH_DEFAULT_GC") != "1":
        from bot import memory

        memory.tune_for_serving()  # as `serve` does once started
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        cpu = time.process_time()
        stats = await rechecker.run_due()
        ended = time.time()
    finally:
        for service in shards or []:
            await service.aclose()
        await rt.aclose()
    return {
        "started": started,
        "ended": ended,
        "cpu": time.process_time() - cpu,
        "pid": os.getpid(),
        "recorded": stats.recorded,
        "round_trips": stats.round_trips,
        "not_recorded": stats.lost + stats.errors + (stats.claimed - stats.recorded),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_main(database_url: str, key: str, start_at: float) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # a cProfile of one instance's pass, for finding where its CPU goes
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, _worker(database_url, key, start_at))
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    else:
        result = asyncio.run(_worker(database_url, key, start_at))
    print(json.dumps(result), flush=True)


# -- the driver -------------------------------------------------------------------------------


async def _seed(database_url: str, key: str, registry_url: str, n: int) -> None:
    from storage.crypto import SecretBox
    from storage.db import create_engine, session_factory
    from tests.recheck import seed

    engine = create_engine(database_url)
    sessions = session_factory(engine)
    box = SecretBox([key])
    try:
        for p in range(0, n, REPOSITORIES):
            project_id = await seed.project(sessions, channel_id=f"C{p:07d}", name=f"bench-{p}")
            await seed.repositories(
                sessions,
                box,
                project_id=project_id,
                registry_url=registry_url,
                count=min(REPOSITORIES, n - p),
                repository="team/app-{i}",
                username=USER,
                secret=PASSWORD,
                pull_only=True,
            )
    finally:
        await engine.dispose()


def measure(n: int, instances: int, registry_url: str, key: str) -> Run:
    from storage.migrate import upgrade
    from tests.support.databases import fresh_postgres_database

    with fresh_postgres_database() as database_url:
        upgrade(database_url)
        asyncio.run(_seed(database_url, key, registry_url, n))
        start_at = time.time() + 3.0  # every worker imported and connected by then
        workers = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", database_url, key, str(start_at)],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for _ in range(instances)
        ]
        results = []
        for process in workers:
            try:
                out, _ = process.communicate(timeout=WORKER_TIMEOUT)
            except subprocess.TimeoutExpired:
                for p in workers:
                    p.kill()
                raise SystemExit(f"a worker ran past {WORKER_TIMEOUT} s") from None
            if process.returncode != 0:
                raise SystemExit(f"a worker failed ({process.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
            if os.environ.get("BENCH_DEBUG"):
                print(results[-1], file=sys.stderr)
    return Run(
        n=n,
        instances=instances,
        seconds=max(r["ended"] for r in results) - min(r["started"] for r in results),
        recorded=int(sum(r["recorded"] for r in results)),
        round_trips=int(sum(r["round_trips"] for r in results)),
        rss_mb=[round(r["rss_mb"], 1) for r in results],
        not_recorded=int(sum(r["not_recorded"] for r in results)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="scheduled re-check pass benchmark")
    parser.add_argument("--n", type=int, action="append", help="connections (repeatable)")
    args = parser.parse_args()
    sizes = args.n or [1000, 10000]

    from cryptography.fernet import Fernet

    from tests.recheck.latency_proxy import LatencyProxy
    from tests.support.databases import postgres_available
    from tests.support.registry_server import RegistryServer, registry_available

    if not registry_available() or not postgres_available():
        raise SystemExit("needs Debian's docker-registry and PostgreSQL on 127.0.0.1:5432")
    key = Fernet.generate_key().decode()
    began = time.monotonic()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; latency {LATENCY * 1000:.0f} ms per round trip, "
        f"concurrency {CONCURRENCY} per instance, PostgreSQL"
    )
    with tempfile.TemporaryDirectory() as workdir:
        registry = RegistryServer(Path(workdir), htpasswd={USER: PASSWORD})
        registry.start()
        try:
            pusher = registry.client(USER, PASSWORD)
            for i in range(REPOSITORIES):
                pusher.push_image(f"team/app-{i}")
            with LatencyProxy(registry.port, LATENCY) as proxy:
                header = (
                    f"{'N':>6} {'inst':>4} {'pass s':>8} {'floor s':>8} {'ratio':>6} "
                    f"{'rt/test':>7} {'peak RSS MB':>14} {'speed-up':>8}"
                )
                print(header)
                for n in sizes:
                    one = measure(n, 1, proxy.url, key)
                    two = measure(n, 2, proxy.url, key)
                    for run in (one, two):
                        speedup = f"{one.seconds / two.seconds:.2f}x" if run is two else ""
                        print(
                            f"{run.n:>6} {run.instances:>4} {run.seconds:>8.2f} "
                            f"{run.floor:>8.2f} {run.ratio:>6.2f} "
                            f"{run.round_trips / max(run.recorded, 1):>7.2f} "
                            f"{'/'.join(str(r) for r in run.rss_mb):>14} {speedup:>8}",
                            flush=True,
                        )
                        if run.recorded != run.n or run.not_recorded:
                            raise SystemExit(
                                f"{run.recorded} of {run.n} recorded, {run.not_recorded} not"
                            )
        finally:
            registry.stop()
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()

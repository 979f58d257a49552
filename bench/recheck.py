"""Benchmark of a full scheduled re-check pass (bench/README.md has the figures).

N saved connections (N = 1,000 and 10,000) on a real registry (Debian's
docker-registry) with HTTP Basic (htpasswd) or Bearer tokens (the test token
server, tests/support/token_server.py), each behind a loopback proxy that adds 50
ms to every round trip; PostgreSQL on 127.0.0.1:5432. Each measured instance is its
own process (`--worker`), so its peak RSS is its own, and runs exactly what `serve`
runs for a pass (bot.recheck.Rechecker: leased claims, connection tests at
concurrency 50, results written through health.apply_result).

Each row is measured twice in the same run: `base`, every entry tested on its own
(`Rechecker(share=False)`: its own ping and token, the code path before issue #24)
and `shared`, the pass's pings and tokens shared (`registry.pass_cache`).

Printed per run: the time for the full pass; the protocol floor, one round trip
per entry, N x 1 x latency / (concurrency x instances), and the ratio to it; the
requests per entry to the registry and to the token realm (the realm's are counted
by the token server itself; the registry's are all the pass's round trips minus
those); peak RSS; for two instances the speed-up over one. Everything is
loopback; each worker is killed if it runs past WORKER_TIMEOUT.

    .venv/bin/python bench/recheck.py            # N = 1000 and 10000, Basic and Bearer
    .venv/bin/python bench/recheck.py --n 2000 --auth bearer   # other sizes, one kind
    .venv/bin/python bench/recheck.py --ecr --n 1000   # Amazon ECR entries (moto as the API)

Knobs for experiments (environment of the bench): BENCH_SHARD_SIZE (tests in flight
per connection pool, bot.recheck.SHARD_SIZE), BENCH_CLAIM="ahead,refill" (claim sizes
as fractions of the concurrency), BENCH_MAX_SCOPES (scopes per shared token
request, registry.pass_cache.MAX_SCOPES), BENCH_ONE_POOL=1 (the runtime's single client),
BENCH_PROFILE=FILE (a cProfile of each instance's pass, FILE.PID; with BENCH_PROFILE_CPU=1
timed in CPU seconds, so waiting for answers drops out), BENCH_DEBUG=1 (each worker's figures).

Every run also prints `mints`: the registry credentials minted during the pass
(GetAuthorizationToken calls for --ecr; 0 for plain registries).  With --ecr all
entries share one access key, so a pass should mint once per instance at most.
moto's authorization tokens expire on 2015-01-01, so the workers' mint cache
runs on a clock pinned 12 h before that (a real token lives 12 h from now).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ipaddress
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
CONCURRENCY = 50
REPOSITORIES = 100  # distinct repositories pushed; N connections spread over N / 100 projects
USER, PASSWORD = "bench", "bench-pass-1"
WORKER_TIMEOUT = 300.0
SHARDED = os.environ.get("BENCH_ONE_POOL", "") == ""  # BENCH_ONE_POOL=1: the runtime's client
ECR_KEY_ID, ECR_SECRET = "AKIABENCHKEY0000001", "bench-secret-access-key-00000000000"
ECR_REGION = "us-east-1"


class WorkerTimeout(Exception):
    """A measured instance ran past WORKER_TIMEOUT (the row says so; the bench goes on)."""


@dataclass
class Run:
    n: int
    instances: int
    seconds: float
    recorded: int
    round_trips: int
    rss_mb: list[float]
    not_recorded: int
    mints: int = 0
    realm_requests: int = 0
    cpu: float = 0.0

    @property
    def floor(self) -> float:
        """The protocol's minimum: one round trip per entry (its access check)."""
        return self.n * 1 * LATENCY / (CONCURRENCY * self.instances)

    @property
    def registry_per_entry(self) -> float:
        return (self.round_trips - self.realm_requests) / max(self.recorded, 1)

    @property
    def realm_per_entry(self) -> float:
        return self.realm_requests / max(self.recorded, 1)

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor if self.floor else float("inf")


# -- one measured instance ----------------------------------------------------------------


async def _worker(
    database_url: str, key: str, start_at: float, profiler: cProfile.Profile | None = None
) -> dict[str, float]:
    from bot.recheck import RecheckConfig, Rechecker, registry_shards
    from bot.runtime import Runtime
    from bot.settings import Settings

    settings = Settings(
        database_url=database_url,
        secret_keys=(key,),
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        recheck_concurrency=CONCURRENCY,
        aws_region=os.environ.get("AWS_REGION"),
    )
    rt = Runtime.create(settings)
    if os.environ.get("BENCH_SHARD_SIZE"):  # tests in flight per pool (bot.recheck)
        import bot.recheck

        bot.recheck.SHARD_SIZE = int(os.environ["BENCH_SHARD_SIZE"])
    if os.environ.get("BENCH_MAX_SCOPES"):  # scopes per shared token request
        import registry.pass_cache

        registry.pass_cache.MAX_SCOPES = int(os.environ["BENCH_MAX_SCOPES"])
    if os.environ.get("BENCH_CLAIM"):  # "ahead,refill" fractions of the concurrency
        import bot.recheck

        ahead, refill = os.environ["BENCH_CLAIM"].split(",")
        bot.recheck.CLAIM_AHEAD, bot.recheck.CLAIM_REFILL = float(ahead), float(refill)
    shards = registry_shards(settings, CONCURRENCY) if SHARDED else None
    minting = (shards or [rt.registry])[0].minting
    if os.environ.get("BENCH_ECR"):
        from datetime import UTC, datetime

        pinned = datetime(2014, 12, 31, 12, 0, tzinfo=UTC)  # see the module docstring
        minting.clock = lambda: pinned
        if not shards:
            rt.registry.minting.clock = minting.clock
    rechecker = Rechecker(
        rt,
        RecheckConfig.from_settings(settings, env={}),
        registries=shards,
        share=os.environ.get("BENCH_BASELINE") != "1",
    )
    if os.environ.get("BENCH_DEFAULT_GC") != "1":
        from server import memory

        memory.tune_for_serving()  # as `serve` does once started
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        stats = await rechecker.run_due()
        ended = time.time()
        if profiler is not None:
            profiler.disable()
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
        "mints": minting.total_mints,
    }


def _profiler() -> cProfile.Profile | None:
    """BENCH_PROFILE: a cProfile of the pass alone (not the imports and setup before it),
    for finding where an instance's CPU goes; BENCH_PROFILE_CPU=1 times it in CPU seconds."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    if os.environ.get("BENCH_PROFILE_CPU") == "1":
        return cProfile.Profile(time.process_time)
    return cProfile.Profile()


def worker_main(database_url: str, key: str, start_at: float) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    profiler = _profiler()
    result = asyncio.run(_worker(database_url, key, start_at, profiler))
    if profiler is not None:
        profiler.dump_stats(f"{os.environ['BENCH_PROFILE']}.{os.getpid()}")
    print(json.dumps(result), flush=True)


# -- the driver -------------------------------------------------------------------------------


async def _seed(database_url: str, key: str, registry_url: str, n: int, ecr: bool = False) -> None:
    from storage.crypto import SecretBox
    from storage.db import create_engine, session_factory
    from tests.bot.recheck import seed

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
                username=ECR_KEY_ID if ecr else USER,
                secret=ECR_SECRET if ecr else PASSWORD,
                pull_only=True,
                registry_type="ecr" if ecr else "registry",
            )
    finally:
        await engine.dispose()


def measure(
    n: int,
    instances: int,
    registry_url: str,
    key: str,
    env: dict[str, str] | None = None,
    realm_count: Callable[[], int] | None = None,
) -> Run:
    from storage.migrate import upgrade
    from tests.support.databases import fresh_postgres_database

    with fresh_postgres_database() as database_url:
        upgrade(database_url)
        ecr = bool(env and env.get("BENCH_ECR"))
        asyncio.run(_seed(database_url, key, registry_url, n, ecr))
        start_at = time.time() + 3.0  # every worker imported and connected by then
        realm_before = realm_count() if realm_count else 0
        workers = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", database_url, key, str(start_at)],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
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
                    p.wait()
                raise WorkerTimeout(f"a worker ran past {WORKER_TIMEOUT:.0f} s") from None
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
        mints=int(sum(r.get("mints", 0) for r in results)),
        realm_requests=(realm_count() - realm_before) if realm_count else 0,
        cpu=sum(r["cpu"] for r in results),
    )


def _start_moto(stack: contextlib.ExitStack) -> tuple[str, dict[str, str]]:
    """moto on loopback as the ECR API; the registry password it mints, and the workers' env."""
    import base64

    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    stack.callback(server.stop)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "ecr",
        region_name=ECR_REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ECR_KEY_ID,
        aws_secret_access_key=ECR_SECRET,
    )
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().partition(":")[2]
    env = {
        "BENCH_ECR": "1",
        "AWS_ENDPOINT_URL_ECR": endpoint,
        "AWS_REGION": ECR_REGION,
        "AWS_CONFIG_FILE": os.devnull,
    }
    return password, env


HEADER = (
    f"{'auth':>6} {'code':>6} {'N':>6} {'inst':>4} {'pass s':>8} {'floor s':>8} {'ratio':>6} "
    f"{'reg/e':>6} {'realm/e':>7} {'cpu s':>6} {'peak RSS MB':>14} {'speed-up':>8} {'mints':>5}"
)


def _row(auth: str, code: str, run: Run, one: Run | None) -> str:
    speedup = f"{one.seconds / run.seconds:.2f}x" if one is not None else ""
    return (
        f"{auth:>6} {code:>6} {run.n:>6} {run.instances:>4} {run.seconds:>8.2f} "
        f"{run.floor:>8.2f} {run.ratio:>6.2f} {run.registry_per_entry:>6.3f} "
        f"{run.realm_per_entry:>7.3f} {run.cpu:>6.1f} "
        f"{'/'.join(str(r) for r in run.rss_mb):>14} {speedup:>8} {run.mints:>5}"
    )


def _check(run: Run) -> None:
    if run.recorded != run.n or run.not_recorded:
        raise SystemExit(f"{run.recorded} of {run.n} recorded, {run.not_recorded} not")


def _bench(
    auth: str,
    n: int,
    url: str,
    key: str,
    env: dict[str, str],
    realm_count: Callable[[], int] | None,
    codes: list[str],
) -> None:
    """One size: each code (base, shared) with one instance, then with two."""
    for instances in (1, 2):
        for code in codes:
            run_env = {**env, "BENCH_BASELINE": "1" if code == "base" else "0"}
            began = time.monotonic()
            try:
                run = measure(n, instances, url, key, run_env, realm_count)
            except WorkerTimeout as timeout:
                print(f"{auth:>6} {code:>6} {n:>6} {instances:>4}  {timeout}", flush=True)
                continue
            _check(run)
            one = _ONE.get((auth, code, n)) if instances == 2 else None
            if instances == 1:
                _ONE[(auth, code, n)] = run
            print(_row(auth, code, run, one), f"({time.monotonic() - began:.0f} s)", flush=True)


_ONE: dict[tuple[str, str, int], Run] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description="scheduled re-check pass benchmark")
    parser.add_argument("--n", type=int, action="append", help="connections (repeatable)")
    parser.add_argument("--ecr", action="store_true", help="Amazon ECR entries, moto as the API")
    parser.add_argument(
        "--auth", choices=("basic", "bearer", "both"), default="both", help="registry auth"
    )
    parser.add_argument(
        "--code", choices=("base", "shared", "both"), default="both", help="which code path"
    )
    args = parser.parse_args()
    sizes = args.n or [1000, 10000]
    codes = ["base", "shared"] if args.code == "both" else [args.code]

    from cryptography.fernet import Fernet

    from tests.bot.recheck.latency_proxy import LatencyProxy
    from tests.support.certs import TestCA
    from tests.support.databases import postgres_available
    from tests.support.registry_server import RegistryServer, registry_available
    from tests.support.token_server import TokenServer, TokenUser

    if not registry_available() or not postgres_available():
        raise SystemExit("needs Debian's docker-registry and PostgreSQL on 127.0.0.1:5432")
    key = Fernet.generate_key().decode()
    began = time.monotonic()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; latency {LATENCY * 1000:.0f} ms per round trip, "
        f"concurrency {CONCURRENCY} per instance, PostgreSQL; floor = N x 1 round trip x "
        "latency / (concurrency x instances); reg/e, realm/e: requests per entry"
    )
    print(HEADER, flush=True)
    kinds = ["basic", "bearer"] if args.auth == "both" else [args.auth]
    if args.ecr:
        kinds = ["ecr"]
    with tempfile.TemporaryDirectory() as workdir, contextlib.ExitStack() as stack:
        setups = []
        for auth in kinds:
            user, password, env = USER, PASSWORD, {}
            realm_count: Callable[[], int] | None = None
            if auth == "ecr":
                user, password, env = "AWS", *_start_moto(stack)
            if auth == "bearer":
                token_server = TokenServer(
                    TestCA(), users={USER: TokenUser(PASSWORD, {"*": {"pull", "push"}})}
                )
                token_server.start()
                stack.callback(token_server.stop)
                realm_proxy = stack.enter_context(LatencyProxy(token_server.port, LATENCY))
                token_server.public_url = realm_proxy.url  # the realm the registry names
                registry = RegistryServer(Path(workdir) / auth, token_server=token_server)
                realm_count = token_server.requests.__len__
            else:
                registry = RegistryServer(Path(workdir) / auth, htpasswd={user: password})
            registry.start()
            stack.callback(registry.stop)
            pusher = registry.client(user, password)
            for i in range(REPOSITORIES):
                pusher.push_image(f"team/app-{i}")
            proxy = stack.enter_context(LatencyProxy(registry.port, LATENCY))
            setups.append((auth, proxy.url, env, realm_count))
        for n in sizes:  # every kind at the small size first: the large one may time out
            for auth, url, env, realm_count in setups:
                _bench(auth, n, url, key, env, realm_count, codes)
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()

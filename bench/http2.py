"""Would HTTP/2 make a re-check pass faster? (issue #24; figures in bench/README.md)

The same requests a shared re-check pass makes, one tags list per entry, sent by
httpx at concurrency 50 over HTTP/1.1 keep-alive pools and over HTTP/2 (one
multiplexed connection), to Debian's docker-registry with TLS (Go's server offers
h2 through ALPN; plain http does not) behind the loopback proxy that adds 50 ms
per round trip. Printed: wall time, the client's CPU time, and the ratio to the
floor (requests x 50 ms / 50).

Needs the `h2` package (not a dependency of the bot): run with it importable, e.g.
`pip install --target /tmp/h2lib h2` and `PYTHONPATH=.:/tmp/h2lib`.

    .venv/bin/python bench/http2.py --n 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LATENCY = 0.05
CONCURRENCY = 50
USER, PASSWORD = "bench", "bench-pass-1"
REPOSITORIES = 20
SHARD = 10  # tests in flight per pool, bot.recheck.SHARD_SIZE when measured (now 5)


async def run(url: str, context: ssl.SSLContext, n: int, http2: bool) -> tuple[float, float]:
    """(wall seconds, client CPU seconds) for n tags lists at CONCURRENCY in flight.

    HTTP/1.1 as the re-checks send it: one pool per SHARD tests in flight
    (bot.recheck.registry_shards), each test on the least busy pool; HTTP/2: one
    client, whose one connection multiplexes every request. Every connection is
    opened (TLS handshake included) before the clock starts."""
    pools = 1 if http2 else CONCURRENCY // SHARD
    size = CONCURRENCY if http2 else SHARD
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [
        httpx.AsyncClient(
            verify=context, http1=not http2, http2=http2, limits=limits, auth=(USER, PASSWORD)
        )
        for _ in range(pools)
    ]
    try:

        async def one(slot: int, i: int) -> None:
            response = await clients[slot % pools].get(
                f"{url}/v2/team/app-{i % REPOSITORIES}/tags/list", params={"n": "1"}
            )
            if response.status_code != 200 or (http2 and response.http_version != "HTTP/2"):
                raise SystemExit(f"{response.http_version} {response.status_code}")

        await asyncio.gather(*(one(slot, slot) for slot in range(CONCURRENCY)))  # warm up
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def worker(slot: int) -> None:
            while not queue.empty():
                await one(slot, queue.get_nowait())

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(slot) for slot in range(CONCURRENCY)))
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        for client in clients:
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import h2  # noqa: F401 - fail early without it

    from tests.bot.recheck.latency_proxy import LatencyProxy
    from tests.support.certs import TestCA
    from tests.support.registry_server import RegistryServer

    ca = TestCA()
    with tempfile.TemporaryDirectory() as workdir:
        registry = RegistryServer(
            Path(workdir), htpasswd={USER: PASSWORD}, tls=ca.issue_server(), ca=ca
        )
        registry.start()
        try:
            pusher = registry.client(USER, PASSWORD)
            for i in range(REPOSITORIES):
                pusher.push_image(f"team/app-{i}")
            context = ssl.create_default_context(cadata=ca.cert_pem)
            with LatencyProxy(registry.port, LATENCY) as proxy:
                url = f"https://localhost:{proxy.port}"
                floor = args.n * LATENCY / CONCURRENCY
                print(f"n={args.n}, floor {floor:.2f} s; wall s / client CPU s / ratio")
                for round_ in range(args.rounds):
                    for http2 in (False, True):  # alternated, so both see the same load
                        wall, cpu = asyncio.run(run(url, context, args.n, http2))
                        name = "HTTP/2" if http2 else "HTTP/1.1"
                        print(
                            f"round {round_ + 1} {name:>8}: {wall:6.2f} s  {cpu:5.2f} s  "
                            f"{wall / floor:5.2f}x",
                            flush=True,
                        )
        finally:
            registry.stop()


if __name__ == "__main__":
    main()

"""A loopback TCP proxy that adds a fixed delay to every round trip (like `tc netem`).

Each chunk of bytes is forwarded half the delay after it arrived, in order, in
both directions, so one HTTP request and its response cost `delay` more than
without the proxy. Connection set-up is not delayed (the proxy accepts at once):
the figure that matters for the re-check bench is the round trips a connection
test makes on pooled connections.

Run it as its own process so that its work does not steal the event loop of the
process being measured::

    python -m tests.bot.recheck.latency_proxy --target 127.0.0.1:5000 --delay 0.05
    # prints "listening on 127.0.0.1:PORT", then serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            if data is None:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + one_way, data))
    except OSError:
        pass
    finally:
        queue.put_nowait((0.0, None))
        with contextlib.suppress(OSError):
            await sender


async def _serve_one(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    host: str,
    port: int,
    delay: float,
) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            _pump(client_reader, upstream_writer, delay / 2),
            _pump(upstream_reader, client_writer, delay / 2),
            return_exceptions=True,
        )
    finally:
        for writer in (upstream_writer, client_writer):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def serve(host: str, port: int, delay: float, listen_port: int = 0) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_one(r, w, host, port, delay),
        "127.0.0.1",
        listen_port,
        backlog=1024,
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


class LatencyProxy:
    """The proxy as a child process: `with LatencyProxy(target_port, 0.05) as proxy: proxy.url`."""

    def __init__(self, target_port: int, delay: float, *, target_host: str = "127.0.0.1") -> None:
        self.target = f"{target_host}:{target_port}"
        self.delay = delay
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LatencyProxy:
        root = Path(__file__).resolve().parents[3]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bot.recheck.latency_proxy",
                "--target",
                self.target,
                "--delay",
                str(self.delay),
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 10
        line = self.process.stdout.readline()
        if not line.startswith("listening on") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"latency proxy did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port to forward to")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per round trip")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    # Killed with SIGTERM by its owner: leave at once, without asyncio's complaints
    # about the connections still open.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port), args.delay, args.port))


if __name__ == "__main__":
    main()

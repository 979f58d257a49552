"""Time to answer Slack (the ack): imagerepo-bot beside a bare Bolt app that only acks.

Both are separate processes on loopback with the same server stack: uvicorn,
Bolt's AsyncApp, AsyncSlackRequestHandler (the bot is the real
`imagerepo-bot serve`, on SQLite; the bare app is `--serve-bare` below). Both
call the same Web API stand-in. A fixed number of signed requests per case,
from 1 and from 50 concurrent clients:

- command: `/imagerepo list` in a channel with a project (the bot acks, then
  reads the page and answers through response_url);
- interaction: alternately `block_actions` (choosing a repository type in the
  add modal: ack, then the modal is rebuilt with views.update) and
  `view_submission` (Save with an invalid registry URL: answered with field
  errors, no network).

Printed: p50 and p99 in ms per case and app, and the ratio of the bot's p99 to
the bare app's; targets: ratio at most 1.5 and p99 under 100 ms.

    .venv/bin/python bench/ack.py                 # 1,000 requests per case
    .venv/bin/python bench/ack.py --requests 2000
    .venv/bin/python bench/ack.py --profile bot.prof   # the bot under cProfile
    .venv/bin/python bench/ack.py --baseline /tmp/base  # also the code in /tmp/base

`--baseline DIR` runs a third process in the same run: `imagerepo-bot serve` with
`PYTHONPATH=DIR` (a checkout of an earlier commit, e.g. `git archive dc141f1 | tar -x
-C DIR`), and prints this code's p99 and CPU per request beside it, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHANNEL = "CBENCH"
CONCURRENCY = (1, 50)
KINDS = ("command", "interaction")
# Diagnostic, 50 clients only: `/imagerepo help` is answered in the ack with no work after it,
# so it shows the bot's stack and ack path alone, without the work that follows other acks.
DIAGNOSTIC = "help"
PLAN = [(clients, kind) for clients in CONCURRENCY for kind in KINDS] + [(50, DIAGNOSTIC)]


# -- the bare app (a separate process) ----------------------------------------------


def serve_bare(port: int, api_url: str, token: str, signing_secret: str) -> None:
    """uvicorn + AsyncApp + AsyncSlackRequestHandler, every request only acked."""
    import re

    import uvicorn
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        process_before_response=False,
    )

    async def only_ack(ack):  # type: ignore[no-untyped-def]
        await ack()

    app.command("/imagerepo")(only_ack)
    app.action(re.compile(".*"))(only_ack)
    app.view(re.compile(".*"))(only_ack)
    handler = AsyncSlackRequestHandler(app)
    uvicorn.run(handler, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- measuring ----------------------------------------------------------------------


@dataclass
class Case:
    app: str
    kind: str
    clients: int
    latencies: list[float]
    errors: int
    cpu_seconds: float = 0.0  # the server process's CPU time during the case

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / max(len(self.latencies), 1)

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
        return ordered[index] * 1000


async def measure(
    url: str, bodies: list[bytes], secret: str, clients: int
) -> tuple[list[float], int]:
    import aiohttp

    from tests.support.slack_requests import sign

    latencies: list[float] = []
    errors = 0
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while queue:
                body = queue.pop()
                headers = sign(body, secret)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    elapsed = time.perf_counter() - started
                if response.status != 200:
                    errors += 1
                latencies.append(elapsed)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors


def load(
    url: str, bodies: list[bytes], secret: str, clients: int, tmp: Path
) -> tuple[list[float], int]:
    """Send `bodies` from a separate process: the load generator must not share a CPU-bound
    interpreter (the GIL) with the Web API stand-in, which validates every view the bot sends."""
    path = tmp / "bodies.json"
    path.write_text(json.dumps([b.decode("latin-1") for b in bodies]))
    done = subprocess.run(
        [sys.executable, __file__, "--load", url, secret, str(clients), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    return list(result["latencies"]), int(result["errors"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, limit: float = 15.0) -> None:
    """Until the process has finished the work its acks started (under 5% CPU for 0.3 s),
    so that one case's work neither slows the next nor is counted in its CPU time."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.3)
        if cpu_seconds(pid) - before < 0.015:
            return


def wait_ready(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def bodies_for(kind: str, n: int, add_view: dict, standin: object) -> list[bytes]:
    from handlers import ids
    from tests.support.slack_requests import (
        block_actions,
        plain_text_value,
        slash_command,
        static_select_action,
        values_by_label,
        view_submission,
    )

    if kind in ("command", "help"):
        return [
            slash_command(
                "list" if kind == "command" else "help",
                user_id="U1",
                channel_id=CHANNEL,
                response_url=standin.new_response_url(),  # type: ignore[attr-defined]
            )
            for _ in range(n)
        ]
    invalid = values_by_label(
        add_view,
        {
            "Registry URL": plain_text_value("ftp://registry.example.com"),
            "Repository": plain_text_value("team/app"),
        },
    )
    out = []
    for i in range(n):
        if i % 2:
            out.append(view_submission(add_view, invalid, user_id="U1"))
        else:
            choice = "dockerhub" if i % 4 else "harbor"
            action = static_select_action(ids.A_TYPE, ids.B_TYPE, choice)
            out.append(block_actions([action], user_id="U1", view=add_view))
    return out


async def prepare_bot(events_url: str, secret: str, standin: object) -> dict:
    """A project in CBENCH and the add modal (its view, for the interactions)."""
    from tests.support.slack_requests import SlackClient

    client = SlackClient(events_url, secret, standin=standin, channel_id=CHANNEL)  # type: ignore[arg-type]
    answered = len(standin.calls_to("response_url"))  # type: ignore[attr-defined]
    opened_before = len(standin.calls_to("views.open"))  # type: ignore[attr-defined]
    try:
        await client.command("project create bench")
        await standin.wait_for_async("response_url", answered + 1, timeout=10)  # type: ignore[attr-defined]
        await client.command("add")
        opened = await standin.wait_for_async("views.open", opened_before + 1, timeout=10)  # type: ignore[attr-defined]
        return dict(opened[-1].response["view"])
    finally:
        await client.aclose()


BASELINE = "baseline bot"


def print_baseline(cases: list[Case]) -> None:
    """This code beside the baseline's, measured in the same run: p99 and CPU ratios."""
    print()
    print(
        "| case | clients | baseline p50 | baseline p99 | bot p50 | bot p99 "
        "| p99 bot / baseline | CPU ms/request baseline / bot (ratio) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for clients, kind in PLAN:
        old = next(c for c in cases if (c.app, c.kind, c.clients) == (BASELINE, kind, clients))
        new = next(
            c for c in cases if (c.app, c.kind, c.clients) == ("imagerepo-bot", kind, clients)
        )
        cpu_ratio = new.cpu_ms_per_request / max(old.cpu_ms_per_request, 1e-9)
        print(
            f"| {kind} | {clients} | {old.pct(0.5):.1f} ms | {old.pct(0.99):.1f} ms "
            f"| {new.pct(0.5):.1f} ms | {new.pct(0.99):.1f} ms "
            f"| {new.pct(0.99) / old.pct(0.99):.2f} "
            f"| {old.cpu_ms_per_request:.2f} / {new.cpu_ms_per_request:.2f} ({cpu_ratio:.2f}) |"
        )


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per case")
    parser.add_argument("--serve-bare", nargs=4, metavar=("PORT", "API", "TOKEN", "SECRET"))
    parser.add_argument("--load", nargs=4, metavar=("URL", "SECRET", "CLIENTS", "BODIES"))
    parser.add_argument(
        "--profile", metavar="FILE", help="run the bot under cProfile, write its stats to FILE"
    )
    parser.add_argument(
        "--baseline", metavar="DIR", help="also measure the bot whose code is in DIR (PYTHONPATH)"
    )
    args = parser.parse_args()
    if args.load:
        url, secret, clients, bodies_file = args.load
        bodies = [b.encode("latin-1") for b in json.loads(Path(bodies_file).read_text())]
        latencies, errors = asyncio.run(measure(url, bodies, secret, int(clients)))
        print(json.dumps({"latencies": latencies, "errors": errors}))
        return 0
    if args.serve_bare:
        port, api, token, secret = args.serve_bare
        serve_bare(int(port), api, token, secret)
        return 0

    from tests.support import bot_process
    from tests.support.bot_process import BotProcess, free_port

    if args.profile:
        profile = str(Path(args.profile).resolve())
        code = (
            "import cProfile, signal\n"
            "from server.cli import main\n"
            # uvicorn re-raises SIGTERM after a clean shutdown: let it return instead.
            "signal.signal(signal.SIGTERM, lambda *_: None)\n"
            "profiler = cProfile.Profile()\n"
            "profiler.enable()\n"
            "try:\n"
            "    main(['serve'])\n"
            "finally:\n"
            "    profiler.disable()\n"
            f"    profiler.dump_stats({profile!r})\n"
        )
        bot_process._command = lambda: [sys.executable, "-c", code]  # type: ignore[attr-defined]
    from tests.support.databases import sqlite_url
    from tests.support.slack_api import SlackApiStandIn

    started = time.monotonic()
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as tmp, SlackApiStandIn() as standin:
        bot = BotProcess(
            slack_api_url=standin.base_url,
            bot_token=standin.bot_token,
            database_url=sqlite_url(Path(tmp)),
            log_path=Path(tmp) / "bot.log",
        )
        base: BotProcess | None = None
        if args.baseline:
            (Path(tmp) / "base").mkdir()
            base = BotProcess(
                slack_api_url=standin.base_url,
                bot_token=standin.bot_token,
                database_url=sqlite_url(Path(tmp) / "base"),
                log_path=Path(tmp) / "base.log",
                extra_env={"PYTHONPATH": str(Path(args.baseline).resolve())},
            )
        bare_port = free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-bare",
                str(bare_port),
                standin.base_url,
                standin.bot_token,
                bot.signing_secret,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            bot.start()
            bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
            wait_ready(bare_url)
            add_view = asyncio.run(prepare_bot(bot.events_url, bot.signing_secret, standin))
            targets = {"bare Bolt": bare_url, "imagerepo-bot": bot.events_url}
            pids = {"bare Bolt": bare.pid, "imagerepo-bot": bot._process.pid}  # type: ignore[union-attr]
            views = {"bare Bolt": add_view, "imagerepo-bot": add_view}
            if base is not None:
                base.start()
                views[BASELINE] = asyncio.run(
                    prepare_bot(base.events_url, base.signing_secret, standin)
                )
                targets[BASELINE] = base.events_url
                pids[BASELINE] = base._process.pid  # type: ignore[union-attr]
            # Warm both up (imports, auth.test, connections, SQLite pages).
            for app, url in targets.items():
                for kind in KINDS:
                    warm = bodies_for(kind, 50, views[app], standin)
                    load(url, warm, bot.signing_secret, 10, Path(tmp))
            for clients, kind in PLAN:
                for app, url in targets.items():
                    bodies = bodies_for(kind, args.requests, views[app], standin)
                    wait_idle(pids[app])  # the last case's work after its acks is done
                    cpu_before = cpu_seconds(pids[app])
                    latencies, errors = load(url, bodies, bot.signing_secret, clients, Path(tmp))
                    wait_idle(pids[app])  # this case's too: all its CPU time is counted
                    cpu = cpu_seconds(pids[app]) - cpu_before
                    cases.append(Case(app, kind, clients, latencies, errors, cpu))
                    print(
                        f"  {app:14} {kind:12} {clients:3} clients: "
                        f"p50 {cases[-1].pct(0.50):6.1f} ms  p99 {cases[-1].pct(0.99):6.1f} ms"
                        f"  cpu {cases[-1].cpu_ms_per_request:5.2f} ms/request  ({errors} errors)",
                        flush=True,
                    )
        finally:
            bot.stop()
            if base is not None:
                base.stop()
            bare.send_signal(signal.SIGTERM)
            try:
                bare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bare.kill()
                bare.wait(timeout=5)

    print()
    print(
        f"Machine: {machine()}; {args.requests} signed requests per case; "
        f"total {time.monotonic() - started:.0f} s"
    )
    print()
    print(
        "| case | clients | bare p50 | bare p99 | bot p50 | bot p99 | p99 ratio "
        "| CPU ms/request bare / bot | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    met = True
    for clients, kind in PLAN:
        bare_case = next(
            c for c in cases if (c.app, c.kind, c.clients) == ("bare Bolt", kind, clients)
        )
        bot_case = next(
            c for c in cases if (c.app, c.kind, c.clients) == ("imagerepo-bot", kind, clients)
        )
        ratio = bot_case.pct(0.99) / bare_case.pct(0.99)
        ok = ratio <= 1.5 and bot_case.pct(0.99) < 100 and bot_case.errors == 0
        if kind != DIAGNOSTIC:
            met = met and ok
        print(
            f"| {kind} | {clients} | {bare_case.pct(0.5):.1f} ms | {bare_case.pct(0.99):.1f} ms "
            f"| {bot_case.pct(0.5):.1f} ms | {bot_case.pct(0.99):.1f} ms | {ratio:.2f} "
            f"| {bare_case.cpu_ms_per_request:.2f} / {bot_case.cpu_ms_per_request:.2f} "
            f"| {'(diagnostic)' if kind == DIAGNOSTIC else 'met' if ok else 'MISSED'} |"
        )
    print()
    print("targets (p99 <= 1.5 x bare, p99 < 100 ms):", "met" if met else "MISSED")
    if args.baseline:
        print_baseline(cases)
    if args.profile:
        import pstats

        stats = pstats.Stats(args.profile)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

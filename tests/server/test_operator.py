"""The operator is told at once (issue 22): a real `imagerepo-bot serve` against the Slack
Web API stand-in, started with a bad token, a wrong secret, Socket Mode, and the console
script's --help / --version / logging settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import WSMsgType, web

from server.cli import version
from tests.server.test_cli import run_cli
from tests.support.bot_process import BotProcess, free_port
from tests.support.databases import sqlite_url
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import sign, slash_command


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


def serve_env(standin: SlackApiStandIn, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": standin.bot_token,
        "SLACK_SIGNING_SECRET": "operator-signing-secret",
        "SLACK_API_URL": standin.base_url,
        "DATABASE_URL": sqlite_url(tmp_path),
        "PORT": str(free_port()),
        **extra,
    }


def bot_process(standin: SlackApiStandIn, directory: Path, **more: Any) -> BotProcess:
    """`serve` against the Slack stand-in, with its SQLite database and log in `directory`
    (`more`: BotProcess's other arguments, or a different database_url)."""
    options: dict[str, Any] = {"database_url": sqlite_url(directory), **more}
    return BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        log_path=directory / "bot.log",
        **options,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("imagerepo-bot:")]


# -- 1. the bot token is checked before the bot listens ---------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (
            "xoxb-revoked-or-mistyped",
            "SLACK_BOT_TOKEN was refused by Slack (auth.test: invalid_auth)",
        ),
        ("xapp-1-an-app-level-token", "SLACK_BOT_TOKEN is an app-level token (xapp-...)"),
        ("xoxp-a-user-token", "SLACK_BOT_TOKEN is a user token (xoxp-...)"),
        ("not-a-token", "SLACK_BOT_TOKEN does not start with xoxb-"),
    ],
)
def test_a_bad_bot_token_stops_serve_with_one_line_before_it_listens(
    standin: SlackApiStandIn, tmp_path: Path, token: str, expected: str
) -> None:
    env = serve_env(standin, tmp_path, SLACK_BOT_TOKEN=token)
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert token not in result.stderr + result.stdout
    assert "serving" not in result.stderr


def test_an_app_token_of_the_wrong_kind_is_named(standin: SlackApiStandIn, tmp_path: Path) -> None:
    env = serve_env(standin, tmp_path, SLACK_APP_TOKEN=standin.bot_token)
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "imagerepo-bot: SLACK_APP_TOKEN is a bot token (xoxb-...): use an App-Level Token "
        "with the connections:write scope (Basic Information page), which starts with xapp-"
    ]


def test_a_good_start_says_what_it_runs_in_one_summary_line_without_library_noise(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with bot_process(standin, tmp_path, database_url=f"sqlite:///{tmp_path}/bot.db") as process:
        text = process.log()
    summary = [line for line in text.splitlines() if "serving:" in line]
    assert len(summary) == 1, text
    assert f"imagerepo-bot {version()} serving: HTTP mode" in summary[0]
    assert f"database sqlite:///{tmp_path}/bot.db" in summary[0]
    assert f"0.0.0.0:{process.port} (POST /slack/events, GET /healthz, GET /metrics)" in summary[0]
    assert '"logger": "alembic' not in text
    assert "will be unused" not in text
    assert "apscheduler" not in text


# -- 2. a wrong signing secret is named in the log ------------------------------------


def test_requests_signed_with_another_secret_leave_one_warning_naming_the_setting(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with bot_process(standin, tmp_path) as process:
        secret_text = "project create body-text-never-logged"
        for _ in range(5):
            body = slash_command(secret_text, channel_id="CWRONG")
            response = httpx.post(
                process.events_url, content=body, headers=sign(body, "another-secret"), timeout=5
            )
            assert response.status_code == 401
        time.sleep(0.3)
        text = process.log()
    warnings = [line for line in text.splitlines() if "SLACK_SIGNING_SECRET" in line]
    assert len(warnings) == 1, text  # at most one a minute, however many requests
    assert '"level": "warning"' in warnings[0]
    assert "body-text-never-logged" not in text


def test_unsigned_requests_are_not_blamed_on_the_signing_secret(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with bot_process(standin, tmp_path) as process:
        body = slash_command("help", channel_id="CUNSIGNED")
        response = httpx.post(process.events_url, content=body, timeout=5)
        assert response.status_code == 401
        time.sleep(0.3)
        assert "SLACK_SIGNING_SECRET" not in process.log()


# -- 3. Socket Mode ---------------------------------------------------------------------


def test_socket_mode_with_a_refused_app_token_stops_with_one_line(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    env = serve_env(standin, tmp_path, SLACK_APP_TOKEN="xapp-1-revoked")
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "SLACK_APP_TOKEN was refused by Slack (apps.connections.open: invalid_auth)" in lines[0]


class SocketModeServer:
    """A WebSocket endpoint in Slack's Socket Mode shape: it greets with `hello`
    (docs.slack.dev/apis/events-api/using-socket-mode: the first message is
    {"type": "hello", ...}) and answers pings; `stop()` drops every connection."""

    def __init__(self) -> None:
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/"

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for message in ws:
            if message.type == WSMsgType.CLOSE:
                break
        self._sockets.discard(ws)
        return ws

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> None:
        import threading

        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


def health_status(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def wait_for_health(url: str, status: int, within: float = 30) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if health_status(url) == status:
            return True
        time.sleep(0.2)
    return False


def start_socket_mode_bot(
    standin: SlackApiStandIn, tmp_path: Path
) -> tuple[subprocess.Popen[bytes], str, Path]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMAGEREPO_"))},
        **serve_env(standin, tmp_path, SLACK_APP_TOKEN=standin.app_token),
    }
    log_path = tmp_path / "bot.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{env['PORT']}", log_path


def wait_for_log(path: Path, text: str, within: float = 40) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def test_socket_mode_stops_retrying_once_slack_refuses_the_app_token_mid_run(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    socket_server = SocketModeServer()
    socket_server.start()
    standin.socket_mode_url = socket_server.url
    original = standin.app_token
    process, base, log_path = start_socket_mode_bot(standin, tmp_path)
    try:
        assert wait_for_health(base, 200), log_path.read_text()
        before = len(standin.calls)
        standin.app_token = "xapp-1-the-only-valid-one-now"  # the bot's token was revoked
        socket_server.stop()
        refused = "SLACK_APP_TOKEN was refused by Slack (apps.connections.open: invalid_auth)"
        assert wait_for_log(log_path, refused), log_path.read_text()
        time.sleep(12)  # more than one reconnect interval: no retry, no traceback
        text = log_path.read_text()
        assert text.count(refused) == 1
        assert "Traceback" not in text and '"trace"' not in text
        assert process.poll() is None
        assert health_status(base) == 503
        opened = [c for c in standin.calls[before:] if c.method == "apps.connections.open"]
        assert len([c for c in opened if c.response.get("error") == "invalid_auth"]) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        standin.app_token = original
        standin.socket_mode_url = "ws://127.0.0.1:9/link/"


def test_healthz_answers_503_while_socket_mode_is_disconnected(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    socket_server = SocketModeServer()
    socket_server.start()
    standin.socket_mode_url = socket_server.url
    process, base, log_path = start_socket_mode_bot(standin, tmp_path)
    try:
        assert wait_for_health(base, 200), log_path.read_text()
        socket_server.stop()
        assert wait_for_health(base, 503), log_path.read_text()
        response = httpx.get(f"{base}/healthz", timeout=2)
        assert response.json() == {"status": "Socket Mode disconnected"}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        standin.socket_mode_url = "ws://127.0.0.1:9/link/"


# -- 7. --help, --version, LOG_LEVEL, LOG_FORMAT, bind failures ---------------------------


@pytest.mark.parametrize(
    ("command", "settings"),
    [
        (
            "serve",
            [
                "SLACK_BOT_TOKEN",
                "SLACK_SIGNING_SECRET",
                "SLACK_APP_TOKEN",
                "DATABASE_URL",
                "HOST",
                "PORT",
                "METRICS_HOST",
                "METRICS_PORT",
                "LOG_LEVEL",
                "LOG_FORMAT",
            ],
        ),
        ("migrate", ["DATABASE_URL", "LOG_LEVEL"]),
        ("rotate-keys", ["DATABASE_URL", "IMAGEREPO_SECRET_KEYS"]),
        ("check", ["IMAGEREPO_ALLOWED_NETWORKS"]),
        ("audit", ["DATABASE_URL"]),
    ],
)
def test_each_subcommand_help_names_the_settings_it_reads_and_an_example(
    command: str, settings: list[str]
) -> None:
    result = run_cli(command, "--help", env={})
    assert result.returncode == 0
    for name in settings:
        assert name in result.stdout, f"{command} --help does not name {name}"
    assert "example" in result.stdout
    assert f"imagerepo-bot {command}" in result.stdout.split("example", 1)[1]


def test_version_prints_the_installed_version() -> None:
    result = run_cli("--version", env={})
    assert result.returncode == 0
    assert result.stdout.strip() == f"imagerepo-bot {version()}"
    assert version() != "unknown"


def test_log_format_text_and_log_level_are_honoured(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with bot_process(standin, tmp_path, extra_env={"LOG_FORMAT": "text"}) as process:
        text = process.log()
    summary = [line for line in text.splitlines() if "serving:" in line]
    assert len(summary) == 1 and not summary[0].startswith("{")
    assert " INFO " in summary[0]
    quiet_path = tmp_path / "quiet"
    with bot_process(standin, quiet_path, extra_env={"LOG_LEVEL": "warning"}) as quiet:
        assert '"level": "info"' not in quiet.log()


def test_bad_log_settings_are_one_line(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": sqlite_url(tmp_path), "LOG_LEVEL": "loud"})
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "imagerepo-bot: LOG_LEVEL must be one of debug, info, warning, error, not 'loud'"
    ]


def test_a_port_in_use_is_reported_before_anything_says_serving(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = run_cli("serve", env=serve_env(standin, tmp_path, PORT=str(busy)))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"imagerepo-bot: cannot listen on PORT {busy}: Address already in use"
    ]
    assert "serving" not in result.stderr


def test_json_is_the_default_off_a_terminal(standin: SlackApiStandIn, tmp_path: Path) -> None:
    with bot_process(standin, tmp_path) as process:
        lines = [line for line in process.log().splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines)


# -- 9. the request id in every "something went wrong" reply -----------------------------


def test_something_went_wrong_quotes_the_request_id_of_its_log_line(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    import json
    import re
    import sqlite3

    database = tmp_path / "bot.db"
    with bot_process(standin, tmp_path, database_url=f"sqlite:///{database}") as process:
        # A database broken under the running bot: the listener fails unexpectedly.
        with sqlite3.connect(database) as connection:
            connection.execute("DROP TABLE project_admins")
            connection.execute("DROP TABLE projects")
        standin.clear()
        body = slash_command("list", channel_id="CBROKEN", response_url=standin.new_response_url())
        response = httpx.post(
            process.events_url, content=body, headers=sign(body, process.signing_secret), timeout=5
        )
        assert response.status_code == 200
        (reply,) = standin.wait_for("response_url", timeout=10)
        text = str(reply.params.get("text", ""))
        match = re.search(r"request id `([0-9a-f]{16})`", text)
        assert match and text.startswith("Something went wrong"), text
        time.sleep(0.3)
        entries = [json.loads(line) for line in process.log().splitlines() if line.startswith("{")]
    failed = [e for e in entries if e["msg"] == "/imagerepo list failed"]
    assert failed and failed[0]["request_id"] == match.group(1)


def test_slack_unreachable_at_start_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    """An outage of Slack must not keep the bot from coming back by itself."""
    with BotProcess(
        slack_api_url=f"http://127.0.0.1:{free_port()}/api/",
        bot_token="xoxb-cannot-be-checked",
        database_url=sqlite_url(tmp_path),
        log_path=tmp_path / "bot.log",
    ) as process:
        assert health_status(process.base_url) == 200
        text = process.log()
    assert "could not ask Slack" in text and "SLACK_BOT_TOKEN" in text
    assert "xoxb-cannot-be-checked" not in text


def test_a_migration_job_can_log_json(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path)}
    text = run_cli("rotate-keys", env=env)  # warns that it generated a key file
    assert text.returncode == 0, text.stderr
    assert "generated a key into" in text.stderr and not text.stderr.startswith("{")
    debug = run_cli("migrate", env={**env, "LOG_FORMAT": "json", "LOG_LEVEL": "debug"})
    assert debug.returncode == 0, debug.stderr
    lines = [line for line in debug.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines)
    assert '"logger": "alembic' in debug.stderr  # debug shows the libraries' own lines

"""The real `imagerepo-bot serve` process: it answers /healthz and refuses unsigned requests."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from server import serving
from tests.support.bot_process import BotProcess, free_port
from tests.support.databases import ADMIN_DSN, fresh_postgres_database, sqlite_url
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import sign, slash_command


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackApiStandIn]:
    with SlackApiStandIn() as api:
        yield api


@pytest.fixture(scope="module")
def server(
    standin: SlackApiStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    directory = tmp_path_factory.mktemp("server")
    with BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=sqlite_url(directory),
        log_path=Path(directory) / "bot.log",
    ) as process:
        yield process


def test_healthz_answers_200_when_the_database_answers(server: BotProcess) -> None:
    response = httpx.get(f"{server.base_url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "five minutes old", "tampered"])
def test_requests_not_signed_by_slack_get_401_and_do_nothing(
    server: BotProcess, standin: SlackApiStandIn, case: str
) -> None:
    standin.clear()
    body = slash_command("project create stolen", channel_id="C401")
    if case == "unsigned":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    elif case == "wrong secret":
        headers = sign(body, "not-the-signing-secret")
    elif case == "five minutes old":
        headers = sign(body, server.signing_secret, timestamp=int(time.time()) - 301)
    else:
        headers = sign(body, server.signing_secret)
        body = body.replace(b"stolen", b"hacked")
    response = httpx.post(server.events_url, content=body, headers=headers, timeout=5)
    assert response.status_code == 401
    assert "Traceback" not in response.text
    time.sleep(0.2)
    assert [c.method for c in standin.calls if c.method != "auth.test"] == []


def test_a_signed_request_is_accepted(server: BotProcess) -> None:
    body = slash_command("help", channel_id="C200")
    response = httpx.post(
        server.events_url, content=body, headers=sign(body, server.signing_secret), timeout=5
    )
    assert response.status_code == 200
    assert "/imagerepo" in response.text


def test_metrics_count_slack_requests(server: BotProcess) -> None:
    # One refused and one accepted request of its own: the test stands alone.
    body = slash_command("help", channel_id="C200")
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(server.events_url, content=body, headers=unsigned).status_code == 401
    signed = sign(body, server.signing_secret)
    assert httpx.post(server.events_url, content=body, headers=signed).status_code == 200
    text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
    # Refused requests are counted without believing their body's kind.
    assert 'imagerepo_slack_requests_total{kind="unverified",status="401"}' in text
    assert 'imagerepo_slack_requests_total{kind="command",status="401"}' not in text
    assert 'imagerepo_slack_requests_total{kind="command",status="200"}' in text
    assert "imagerepo_slack_ack_seconds_bucket" in text


def test_log_lines_are_json_with_a_request_id(server: BotProcess) -> None:
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    assert lines, "the server logged nothing as JSON"
    entries = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg", "request_id"} <= set(e) for e in entries)


@pytest.mark.postgres
def test_healthz_answers_503_when_postgresql_goes_away(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with (
        fresh_postgres_database() as url,
        BotProcess(
            slack_api_url=standin.base_url,
            bot_token=standin.bot_token,
            database_url=url,
            log_path=tmp_path / "bot.log",
        ) as process,
    ):
        assert httpx.get(f"{process.base_url}/healthz", timeout=5).status_code == 200

        async def drop() -> None:
            connection = await asyncpg.connect(ADMIN_DSN)
            try:
                name = url.rsplit("/", 1)[1]
                await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await connection.close()

        asyncio.run(drop())
        response = httpx.get(f"{process.base_url}/healthz", timeout=15)
        assert response.status_code == 503
        assert response.json() == {"status": "database unreachable"}


async def test_answers_leave_at_once_nagle_is_off_on_accepted_connections() -> None:
    """serve's own listening socket must give connections with TCP_NODELAY: asyncio sets it
    only on sockets whose protocol says TCP, and without it every answer waited ~40 ms for
    the client's delayed ACK (bench/ack.py: /imagerepo help at 50 clients, 15 -> 60 ms)."""
    port = free_port()
    sock = serving.listen(port, "PORT")
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()

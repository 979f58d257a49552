"""What a stranger without the signing secret can do to POST /slack/events (issue 11, 1-4),
the generated key file under concurrent start-up (13) and the internal metrics port (15).

Most tests talk to the real `imagerepo-bot serve` over loopback; the raw-socket ones send
exactly the bytes a hostile client would (a declared length it never sends, a chunked body
that never ends, a body trickled a byte at a time).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from handlers.gate import ACKS_IN_FLIGHT
from storage.crypto import load_or_create_key_file
from tests.hardening.inprocess import InProcessBot
from tests.support.bot_process import BotProcess
from tests.support.databases import sqlite_url
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import FORM_CONTENT_TYPE, sign, slash_command

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(
    standin: SlackApiStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    directory = tmp_path_factory.mktemp("limits")
    with BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=sqlite_url(directory),
        log_path=Path(directory) / "bot.log",
    ) as process:
        yield process


def head(port: int, headers: dict[str, str]) -> bytes:
    lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_status(sock: socket.socket, within: float) -> int | None:
    """The status code of the answer, or None when none came within `within` seconds."""
    sock.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    try:
        while b"\r\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, OSError):
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data.split(b" ", 2)[1])


def signed_help_works(server: BotProcess) -> bool:
    body = slash_command("help", channel_id="CLIMITS")
    response = httpx.post(
        server.events_url, content=body, headers=sign(body, server.signing_secret), timeout=5
    )
    return response.status_code == 200 and "/imagerepo" in response.text


def new_log(server: BotProcess, since: int) -> str:
    time.sleep(0.2)
    return server.log()[since:]


# ---------------------------------------------------------------- 1: body size and deadline


def test_a_body_declared_over_1_mib_is_refused_with_413_before_it_is_sent(
    server: BotProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            head(
                server.port,
                {"Content-Type": FORM_CONTENT_TYPE, "Content-Length": str(32 * MIB)},
            )
        )
        assert read_status(sock, within=5) == 413
    assert signed_help_works(server)


def test_a_chunked_body_growing_past_1_mib_is_refused_with_413(server: BotProcess) -> None:
    chunk = b"a" * 65536
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            head(
                server.port,
                {"Content-Type": FORM_CONTENT_TYPE, "Transfer-Encoding": "chunked"},
            )
        )
        try:
            for _ in range(17):  # 1.06 MiB, and no last chunk: only the count can stop it
                sock.sendall(b"10000\r\n" + chunk + b"\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending
        assert read_status(sock, within=5) == 413
    assert signed_help_works(server)


def test_a_body_that_never_finishes_gets_408_after_the_deadline(server: BotProcess) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            head(server.port, {"Content-Type": FORM_CONTENT_TYPE, "Content-Length": "200"})
            + b"token=abc"
        )
        # Waited for generously (a loaded machine answers late); only the lower bound
        # is exact: the bot waited out its 10 s deadline before it gave up.
        assert read_status(sock, within=60) == 408
    assert time.monotonic() - started > 9
    assert signed_help_works(server)


# ---------------------------------------------------------------- 2: malformed timestamps


@pytest.mark.parametrize(
    "timestamp",
    ["abc", "9" * 5000, "-1", "1e9", "", "12345678901234567890", "0x6553f100"],
    ids=["letters", "5000 digits", "negative", "exponent", "empty", "20 digits", "hex"],
)
def test_a_malformed_timestamp_is_401_without_a_traceback(
    server: BotProcess, timestamp: str
) -> None:
    since = len(server.log())
    body = slash_command("project create stolen", channel_id="C401TS")
    digest = hmac.new(
        server.signing_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    response = httpx.post(
        server.events_url,
        content=body,
        headers={
            "Content-Type": FORM_CONTENT_TYPE,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
        },
        timeout=5,
    )
    assert response.status_code == 401
    logged = new_log(server, since)
    assert "Traceback" not in logged and '"level": "error"' not in logged


def test_a_non_ascii_signature_or_a_non_utf8_body_is_refused_without_a_traceback(
    server: BotProcess,
) -> None:
    since = len(server.log())
    body = slash_command("help", channel_id="C401SIG")
    headers = sign(body, server.signing_secret)
    weird = httpx.Headers(
        [(k.encode(), v.encode()) for k, v in headers.items() if k != "X-Slack-Signature"]
        + [(b"X-Slack-Signature", b"v0=\xe9\xe9")]
    )
    response = httpx.post(server.events_url, content=body, headers=weird, timeout=5)
    assert response.status_code == 401
    binary = b"payload=\xff\xfe\xfd"
    response = httpx.post(
        server.events_url, content=binary, headers=sign(binary, server.signing_secret), timeout=5
    )
    assert response.status_code == 400
    logged = new_log(server, since)
    assert "Traceback" not in logged and '"level": "error"' not in logged


# ------------------------------------------- issue 18, item 6: signed bodies Bolt cannot take


def _form_payload(raw_json: str) -> bytes:
    from urllib.parse import quote

    return b"payload=" + quote(raw_json, safe="").encode()


@pytest.mark.parametrize(
    "body",
    [
        _form_payload("[" * 100_000 + "]" * 100_000),
        b"{" + b'"type": "event_callback", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        _form_payload('{"type": "block_actions", "n": ' + "9" * 5000 + "}"),
        b'{"type": "event_callback", "event_time": ' + b"7" * 5000 + b"}",
        _form_payload(
            json.dumps(
                {
                    "type": "view_submission",
                    "team": {"id": "T1"},
                    "user": {"id": "U1"},
                    "view": {"id": "V1", "callback_id": "add_repository", "state": {}},
                }
            )
        ),
        _form_payload('{"type": "view_closed", "view": "not an object"}'),
        _form_payload('["a", "list"]'),
    ],
    ids=[
        "100k nested brackets (form)",
        "100k nested brackets (JSON)",
        "5000-digit number (form)",
        "5000-digit number (JSON)",
        "view_submission without view type",
        "view_closed with a string view",
        "payload not an object",
    ],
)
def test_a_signed_body_bolt_cannot_parse_is_400_with_one_log_line(
    server: BotProcess, body: bytes
) -> None:
    since = len(server.log())
    response = httpx.post(
        server.events_url, content=body, headers=sign(body, server.signing_secret), timeout=15
    )
    assert response.status_code == 400
    assert "Traceback" not in response.text
    time.sleep(0.2)
    logged = [line for line in new_log(server, since).splitlines() if line.strip()]
    assert len(logged) == 1, logged
    assert "refused a signed request whose body is" in logged[0]
    assert '"level": "warning"' in logged[0]
    assert "Traceback" not in logged[0] and "trace" not in json.loads(logged[0])
    assert signed_help_works(server)


# ---------------------------------------------------------------- 3: bounded metric labels


def slack_samples(server: BotProcess) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{server.internal_url}/metrics", timeout=5).text
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "imagerepo_slack_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["kind"], sample.labels["status"])
                    counts[key] = sample.value
    return counts


KNOWN_KINDS = {
    "command",
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "event_callback",
    "url_verification",
    "shortcut",
    "message_action",
    "unverified",
    "other",
}


def test_made_up_payload_types_do_not_grow_metrics_and_only_verified_requests_get_a_kind(
    server: BotProcess,
) -> None:
    before = slack_samples(server)
    size_before = len(httpx.get(f"{server.internal_url}/metrics", timeout=5).text)
    with httpx.Client(timeout=5) as client:
        for n in range(60):
            kind = f"madeup_{n}"
            form = b"payload=" + json.dumps({"type": kind}).encode()
            client.post(
                server.events_url, content=form, headers={"Content-Type": FORM_CONTENT_TYPE}
            )
            client.post(server.events_url, json={"type": f"json_{n}"})
            client.post(
                server.events_url,
                content=slash_command("help"),
                headers={"Content-Type": FORM_CONTENT_TYPE},
            )
        signed = json.dumps({"type": "signed_but_unknown_kind", "token": "x"}).encode()
        client.post(server.events_url, content=signed, headers=sign(signed, server.signing_secret))
    after = slack_samples(server)
    size_after = len(httpx.get(f"{server.internal_url}/metrics", timeout=5).text)

    assert {kind for kind, _ in after} <= KNOWN_KINDS, sorted({k for k, _ in after} - KNOWN_KINDS)
    statuses = {"200", "400", "401", "404", "408", "413", "500", "other"}
    assert {status for _, status in after} <= statuses
    # 180 unsigned requests: counted once, as unverified; no kind of theirs is believed.
    grew = {key: n - before.get(key, 0.0) for key, n in after.items() if n != before.get(key)}
    assert grew.get(("unverified", "401")) == 180
    assert [key for key in grew if key[0] == "command"] == []
    assert grew.get(("other", "404"), 0) + grew.get(("other", "200"), 0) == 1
    assert size_after - size_before < 2000


# ---------------------------------------------------------------- 4: acks in flight


def test_a_request_counts_as_an_ack_in_flight_only_once_its_signature_is_verified(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    """Deterministic: an unsigned body that never ends leaves the count at zero."""
    bot = InProcessBot(standin, tmp_path)
    try:

        async def scenario() -> tuple[int, int]:
            never = asyncio.Event()
            sent: list[Any] = []

            async def receive() -> dict[str, Any]:
                if not sent:
                    sent.append(True)
                    return {"type": "http.request", "body": b"payload=%7B", "more_body": True}
                await never.wait()
                return {"type": "http.disconnect"}

            async def send(message: Any) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "method": "POST",
                "path": "/slack/events",
                "headers": [(b"content-type", FORM_CONTENT_TYPE.encode())],
                "query_string": b"",
                "server": ("127.0.0.1", 3000),
            }
            task = asyncio.create_task(bot.app(scope, receive, send))
            await asyncio.sleep(0.2)
            during = ACKS_IN_FLIGHT.count
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return during, ACKS_IN_FLIGHT.count

        during, after = bot.run(scenario())
        assert during == 0
        assert after == 0
    finally:
        bot.close()


def trickle(port: int, stop: threading.Event, seconds: float) -> None:
    """An unsigned client that sends its headers, then one byte of body every 50 ms."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head(port, {"Content-Type": FORM_CONTENT_TYPE, "Content-Length": "100000"}))
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                sock.sendall(b"a")
            except OSError:
                return
            stop.wait(0.05)


def test_a_slow_unsigned_client_does_not_delay_the_work_of_signed_commands(
    server: BotProcess, standin: SlackApiStandIn
) -> None:
    commands = 10
    stop = threading.Event()
    trickler = threading.Thread(target=trickle, args=(server.port, stop, 8.0))
    trickler.start()
    try:
        time.sleep(0.3)  # the slow request is being read
        standin.clear()

        async def send_commands() -> float:
            async with httpx.AsyncClient(timeout=5) as client:
                bodies = [
                    slash_command(
                        "project",
                        channel_id=f"CSLOW{n}",
                        response_url=standin.new_response_url(),
                    )
                    for n in range(commands)
                ]
                responses = await asyncio.gather(
                    *(
                        client.post(
                            server.events_url, content=b, headers=sign(b, server.signing_secret)
                        )
                        for b in bodies
                    )
                )
            assert [r.status_code for r in responses] == [200] * commands
            return time.monotonic()

        acked = asyncio.run(send_commands())
        calls = standin.wait_for("response_url", count=commands, timeout=10)
        # The work after each ack (answering on response_url) waits for acks in flight,
        # 0.25 s at most per listener: counting the stranger would make this >= 2.5 s.
        assert max(c.at for c in calls) - acked < 1.2
    finally:
        stop.set()
        trickler.join(timeout=10)


# ---------------------------------------------------------------- 13: the generated key file


def _race_for_key(path: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=20)
    try:
        results.put(("ok", load_or_create_key_file(Path(path))))
    except BaseException as error:  # reported to the test, whatever it is
        results.put(("crashed", f"{type(error).__name__}: {error}"))


def test_eight_processes_starting_at_once_end_with_the_same_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(8):
        path = tmp_path / f"round{attempt}" / "imagerepo.db.key"
        barrier = context.Barrier(8)
        results = context.Queue()
        processes = [
            context.Process(target=_race_for_key, args=(str(path), barrier, results))
            for _ in range(8)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(timeout=10)
        crashed = [detail for status, detail in outcomes if status != "ok"]
        assert crashed == [], crashed
        keys = {detail for _, detail in outcomes}
        assert len(keys) == 1
        assert path.read_text().strip() == keys.pop()
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


# ---------------------------------------------------------------- 15: METRICS_PORT


def test_metrics_port_serves_metrics_and_healthz_and_the_public_port_no_longer_does(
    standin: SlackApiStandIn, tmp_path: Path
) -> None:
    with BotProcess(
        slack_api_url=standin.base_url,
        bot_token=standin.bot_token,
        database_url=sqlite_url(tmp_path),
        log_path=tmp_path / "bot.log",
        metrics_port=True,
    ) as process:
        assert process.metrics_port is not None and process.metrics_port != process.port
        public, internal = process.base_url, process.internal_url
        assert httpx.get(f"{public}/metrics", timeout=5).status_code == 404
        assert httpx.get(f"{public}/healthz", timeout=5).status_code == 404
        assert signed_help_works(process)
        assert httpx.get(f"{internal}/healthz", timeout=5).json() == {"status": "ok"}
        metrics = httpx.get(f"{internal}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert 'imagerepo_slack_requests_total{kind="command",status="200"}' in metrics.text
        body = slash_command("help")
        answer = httpx.post(
            f"{internal}/slack/events",
            content=body,
            headers=sign(body, process.signing_secret),
            timeout=5,
        )
        assert answer.status_code == 404

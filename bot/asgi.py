"""The ASGI application uvicorn serves: Slack's endpoint, /healthz and /metrics.

A few routes do not justify a web framework: this module dispatches on the path
and hands `POST /slack/events` to Bolt's own ASGI adapter, which verifies the
signature (401 when it is wrong) before any listener runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import metrics
from bot.logs import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SLACK_PATH = "/slack/events"


class AcksInFlight:
    """How many Slack requests are waiting for their answer (the ack) right now.

    Work done after an ack shares the event loop with the acks of later requests;
    `wait_until_idle` lets that work start when no ack is waiting (within a bound,
    so it is never starved), which keeps acks fast under a burst.
    """

    def __init__(self) -> None:
        self.count = 0
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event(self) -> asyncio.Event:
        """The event of the running loop (tests run several loops in one process)."""
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            self._idle, self._loop = asyncio.Event(), loop
            if self.count <= 0:
                self._idle.set()
        return self._idle

    def begin(self) -> None:
        self.count += 1
        self._event().clear()

    def end(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.count = 0
            self._event().set()

    async def wait_until_idle(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), at_most)


ACKS_IN_FLIGHT = AcksInFlight()


async def respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    await respond(send, status, json.dumps(payload).encode(), "application/json")


class Router:
    """Routes by path; lifespan events run the start-up and shut-down hooks."""

    def __init__(
        self,
        slack: ASGIApp,
        *,
        health: Callable[[], Awaitable[bool]],
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._slack = slack
        self._health = health
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == SLACK_PATH:
            if method != "POST":
                await respond_json(send, 405, {"error": "use POST"})
                return
            await self._serve_slack(scope, receive, send)
        elif path == "/healthz" and method in ("GET", "HEAD"):
            healthy = await self._health()
            await respond_json(
                send,
                200 if healthy else 503,
                {"status": "ok" if healthy else "database unreachable"},
            )
        elif path == "/metrics" and method == "GET":
            await respond(send, 200, generate_latest(), CONTENT_TYPE_LATEST)
        else:
            await respond_json(send, 404, {"error": "not found"})

    async def _serve_slack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to Bolt, measuring the time to answer (the ack) by payload kind."""
        started = time.perf_counter()
        REQUEST_ID.set(new_request_id())
        body = bytearray()
        status = 500

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < 65536:
                body.extend(message.get("body", b""))
            return message

        answered = False

        async def send_and_time(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                ACKS_IN_FLIGHT.end()
                status = message["status"]
                kind = payload_kind(bytes(body))
                metrics.ACK_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)
                metrics.SLACK_REQUESTS.labels(kind=kind, status=str(status)).inc()
            await send(message)

        ACKS_IN_FLIGHT.begin()
        try:
            await self._slack(scope, receive_and_keep, send_and_time)
        finally:
            if not answered:
                ACKS_IN_FLIGHT.end()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as error:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self._on_shutdown is not None:
                        await self._on_shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return


_FORM_TYPE = re.compile(rb"^payload=%7B%22type%22%3A%22([a-z_]{1,32})%22")


def payload_kind(body: bytes) -> str:
    """`command`, `block_actions`, `view_submission`, `event_callback`... for the metrics labels.

    Interactive payloads are large (a modal's whole state) and Bolt parses them
    anyway, so their kind is read from the start of the body, where Slack puts it;
    only a body in another shape is parsed.
    """
    match = _FORM_TYPE.match(body)
    if match:
        return match.group(1).decode()
    try:
        if body.startswith(b"{"):
            return str(json.loads(body).get("type", "unknown"))[:32]
        form = parse_qs(body.decode("utf-8", "replace"))
        if "command" in form:
            return "command"
        if "payload" in form:
            return str(json.loads(form["payload"][0]).get("type", "unknown"))[:32]
    except (ValueError, AttributeError):
        pass
    return "unknown"

"""The ASGI application uvicorn serves: Slack's endpoint, /healthz and /metrics.

A few routes do not justify a web framework: this module dispatches on the path.
`POST /slack/events` is read here first, within a size limit and a deadline, and its
signature checked (`server.signature`); only a signed request reaches Bolt's own ASGI
adapter (which checks again), counts as an ack in flight, and gets a payload kind
in the metrics. With METRICS_PORT set, /healthz and /metrics answer on that port only.
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
from handlers.gate import ACKS_IN_FLIGHT
from server.signature import SlackSignature

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SLACK_PATH = "/slack/events"

# The largest bodies Slack sends are view_submission/block_actions payloads carrying a
# modal: Block Kit caps a view at 100 blocks and 250 KB and a typed value at 3,000
# characters (docs.slack.dev, Block Kit reference: "Views" limits; plain_text_input),
# and the views this app builds are a few KB. Even percent-encoded into a form
# (at most 3 bytes per byte), every payload fits well within 1 MiB.
MAX_BODY_BYTES = 1024 * 1024
# Slack sends its whole body at once; a client still sending after 10 s is not Slack.
BODY_DEADLINE_SECONDS = 10.0


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


async def refuse(send: Send, status: int, reason: str, *, kind: str = "unverified") -> None:
    """Answer a request Bolt never sees, counted without believing anything in its body."""
    metrics.count_slack_request(kind, status)
    body = json.dumps({"error": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),  # the rest of the body, if any, is not read
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Router:
    """Routes by path; lifespan events run the start-up and shut-down hooks."""

    def __init__(
        self,
        slack: ASGIApp,
        *,
        health: Callable[[], Awaitable[bool]],
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        signing_secret: str,
        internal_port: int | None = None,
    ) -> None:
        self._slack = slack
        self._signature = SlackSignature(signing_secret)
        self._internal_port = internal_port
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
        internal = self._is_internal(scope)
        if path == SLACK_PATH and not internal:
            if method != "POST":
                await respond_json(send, 405, {"error": "use POST"})
                return
            await self._serve_slack(scope, receive, send)
        elif path == "/healthz" and method in ("GET", "HEAD") and internal is not False:
            healthy = await self._health()
            await respond_json(
                send,
                200 if healthy else 503,
                {"status": "ok" if healthy else "database unreachable"},
            )
        elif path == "/metrics" and method == "GET" and internal is not False:
            await respond(send, 200, generate_latest(), CONTENT_TYPE_LATEST)
        else:
            await respond_json(send, 404, {"error": "not found"})

    def _is_internal(self, scope: Scope) -> bool | None:
        """None when every route shares one port; else whether the request came in on
        the internal (METRICS_PORT) one, by the local address uvicorn puts in the scope."""
        if self._internal_port is None:
            return None
        server: tuple[str, int] | None = scope.get("server")
        return server is not None and server[1] == self._internal_port

    async def _serve_slack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body (bounded), check the signature, then hand the request to Bolt,
        measuring the time to answer (the ack) by payload kind."""
        started = time.perf_counter()
        REQUEST_ID.set(new_request_id())
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        if not self._signature.verify(scope["headers"], body):
            await refuse(send, 401, "invalid request signature")
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await refuse(send, 400, "the body is not UTF-8", kind="other")
            return

        delivered = False

        async def receive_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect

        answered = False

        async def send_and_time(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                ACKS_IN_FLIGHT.end()
                kind = payload_kind(body)
                metrics.ACK_SECONDS.labels(kind=kind).observe(time.perf_counter() - started)
                metrics.count_slack_request(kind, message["status"])
            await send(message)

        ACKS_IN_FLIGHT.begin()
        try:
            await self._slack(scope, receive_body, send_and_time)
        finally:
            if not answered:
                ACKS_IN_FLIGHT.end()

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once the client was answered 413/408 (or went away).

        A declared Content-Length over the limit is refused before a byte of the body is
        read; a chunked body is counted as it arrives.
        """
        declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        with contextlib.suppress(ValueError):
            if declared and int(declared[0]) > MAX_BODY_BYTES:
                await refuse(send, 413, "request body over 1 MiB")
                return None
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_DEADLINE_SECONDS):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None  # http.disconnect: nobody to answer
                    body.extend(message.get("body", b""))
                    if len(body) > MAX_BODY_BYTES:
                        await refuse(send, 413, "request body over 1 MiB")
                        return None
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            await refuse(send, 408, f"request body not received within {BODY_DEADLINE_SECONDS:g} s")
            return None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as error:  # boundary: any failure is told to uvicorn
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
    """`command`, `block_actions`, `view_submission`, `event_callback`... for the metrics
    labels: one of `metrics.SLACK_KINDS`, `other` for anything else.

    Interactive payloads are large (a modal's whole state) and Bolt parses them
    anyway, so their kind is read from the start of the body, where Slack puts it;
    only a body in another shape is parsed.
    """
    return metrics.slack_kind(_claimed_kind(body))


def _claimed_kind(body: bytes) -> str:
    match = _FORM_TYPE.match(body)
    if match:
        return match.group(1).decode()
    try:
        if body.startswith(b"{"):
            return str(json.loads(body).get("type"))
        form = parse_qs(body.decode("utf-8", "replace"))
        if "command" in form:
            return "command"
        if "payload" in form:
            return str(json.loads(form["payload"][0]).get("type"))
    except (ValueError, AttributeError, RecursionError):
        pass
    return "other"

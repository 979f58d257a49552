"""The composition root: builds Bolt's AsyncApp, registers the listeners, wraps it in ASGI.

Only the composition root (`server`) imports `handlers` (to register them); the use
cases in `bot` never do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.runtime import Runtime
from handlers.delivery import SlackPoster
from server import memory
from server.asgi import SLACK_PATH, Router
from server.socket_mode import SocketMode
from storage.db import ping

log = logging.getLogger(__name__)


def create_slack_client(token: str, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out `ratelimited` (Retry-After) and retries lost connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def create_bolt_app(runtime: Runtime) -> AsyncApp:
    token, signing_secret = runtime.settings.require_slack_credentials()
    client = create_slack_client(token, runtime.settings.slack_api_url)
    runtime.poster = SlackPoster(client)
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # Ack first, then work: listeners call ack() and keep running (Slack's 3 s limit).
        process_before_response=False,
    )
    handlers.register_listeners(app, runtime)
    return app


def create_asgi_app(
    runtime: Runtime,
    *,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> Router:
    bolt = create_bolt_app(runtime)
    socket_mode_task: asyncio.Task[None] | None = None
    socket_mode: SocketMode | None = None

    async def startup() -> None:
        nonlocal socket_mode_task, socket_mode
        # Without a session slack_sdk opens (and closes) a connection per Web API call.
        bolt.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=bolt.client.timeout)
        )
        if runtime.settings.slack_app_token:
            socket_mode = SocketMode(bolt, runtime.settings.slack_app_token)
            socket_mode_task = asyncio.create_task(socket_mode.connect_async())  # type: ignore[no-untyped-call]
            log.info("Socket Mode: receiving Slack events over a WebSocket")
        if on_startup is not None:
            await on_startup()
        memory.tune_for_serving()

    async def shutdown() -> None:
        try:
            if on_shutdown is not None:
                await on_shutdown()
            if socket_mode_task is not None:
                socket_mode_task.cancel()
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
        finally:
            if bolt.client.session is not None:
                await bolt.client.session.close()
            await runtime.aclose()

    async def health() -> bool | str:
        if not await ping(runtime.engine):
            return False
        if runtime.settings.slack_app_token and (
            socket_mode is None or not await socket_mode.connected()
        ):
            return "Socket Mode disconnected"
        return True

    slack_handler: Any = AsyncSlackRequestHandler(
        bolt, path=SLACK_PATH
    )  # its scope type is narrower
    _, signing_secret = runtime.settings.require_slack_credentials()
    return Router(
        slack_handler,
        health=health,
        on_startup=startup,
        on_shutdown=shutdown,
        signing_secret=signing_secret,
        internal_port=runtime.settings.metrics_port,
    )

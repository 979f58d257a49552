"""The bot's ASGI app in this process, driven through httpx.ASGITransport on an event loop we own.

The same app `imagerepo-bot serve` hands to uvicorn (`server.app.create_asgi_app`),
with the same listeners, database and Web API client, but no sockets and no
process start: what the fuzz test needs to push ten thousand requests through
in well under two minutes on two cores.

The loop is a plain `asyncio.new_event_loop()` so that a synchronous test (a
hypothesis `@given`) can run one request at a time with `run()`; the work Bolt
leaves running after the ack advances whenever the loop runs and is waited for
(then cancelled, bounded) by `drain()` and `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet

from bot.runtime import Runtime
from bot.settings import Settings
from server.app import create_asgi_app
from storage.db import transaction
from storage.migrate import upgrade
from tests.support.databases import sqlite_url
from tests.support.slack_api import SlackApiStandIn
from tests.support.slack_requests import SlackClient

T = TypeVar("T")
SIGNING_SECRET = "hardening-signing-secret-0123456789"
EVENTS_URL = "http://bot.test/slack/events"


class InProcessBot:
    def __init__(
        self,
        standin: SlackApiStandIn,
        directory: Path,
        *,
        allowed_networks: tuple[str, ...] = (),
        dockerhub_registry_url: str = "http://10.255.0.1",
        dockerhub_api_url: str = "http://10.255.0.2",
    ) -> None:
        import ipaddress

        self.database_url = sqlite_url(directory)
        self.database_path = directory / "imagerepo.db"
        self.secret_keys = Fernet.generate_key().decode()
        upgrade(self.database_url)
        self.settings = Settings(
            slack_bot_token=standin.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=standin.base_url,
            database_url=self.database_url,
            secret_keys=(self.secret_keys,),
            allowed_networks=tuple(ipaddress.ip_network(n) for n in allowed_networks),
            dockerhub_registry_url=dockerhub_registry_url,
            dockerhub_api_url=dockerhub_api_url,
        )
        self.standin = standin
        self.loop = asyncio.new_event_loop()
        self.runtime = self.run(self._create_runtime())
        self.app = create_asgi_app(self.runtime)
        self.transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]

    async def _create_runtime(self) -> Runtime:
        return Runtime.create(self.settings)  # its asyncio objects belong to self.loop

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def client(self, **kwargs: Any) -> SlackClient:
        """A signed-request client; create and close it inside `run` (it is async)."""
        return SlackClient(
            EVENTS_URL,
            SIGNING_SECRET,
            standin=self.standin,
            transport=self.transport,
            **kwargs,
        )

    async def db(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with transaction(self.runtime.sessions) as session:
            return await work(session)

    def pending(self) -> list[asyncio.Task[Any]]:
        current = asyncio.current_task(self.loop) if self.loop.is_running() else None
        return [t for t in asyncio.all_tasks(self.loop) if t is not current and not t.done()]

    def drain(self, timeout: float = 20.0) -> int:
        """Let the work after the acks finish; return how many tasks were still running."""

        async def wait() -> int:
            tasks = self.pending()
            if not tasks:
                return 0
            _, still = await asyncio.wait(tasks, timeout=timeout)
            return len(still)

        return self.run(wait())

    def close(self) -> None:
        try:
            left = self.pending()
            for task in left:
                task.cancel()
            if left:
                self.run(asyncio.wait(left, timeout=5))
            self.run(self.runtime.aclose())
            client = getattr(self.runtime.poster, "client", None)  # handlers' SlackPoster
            session = getattr(client, "session", None)
            if session is not None:
                self.run(session.close())
        finally:
            self.loop.close()

"""The long-lived objects of one bot process, built once and shared by every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.keys import secret_box
from bot.outbox import Poster
from bot.settings import Settings
from registry import RegistryConfig, RegistryService
from storage.crypto import SecretBox
from storage.db import create_engine, session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    registry: RegistryService
    # Set after a channel message is queued, so the outbox sender runs without waiting.
    outbox_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Sends the outbox's channel messages (handlers.delivery.SlackPoster over the Web API
    # client), set by server.app when the Slack app is built (None in the CLI).
    poster: Poster | None = None
    # True while this process's scheduler sends the outbox (listeners then leave it to it).
    outbox_sender_running: bool = False
    # Seconds since the epoch; tests replace it to age a passing Connection Test.
    clock: Callable[[], float] = field(default_factory=lambda: time.time)

    @property
    def fingerprint_key(self) -> bytes:
        return self.box.derive_key("form-fingerprint")

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            box=secret_box(settings),
            registry=RegistryService(registry_config(settings)),
        )

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.engine.dispose()


# The registry settings a bot process takes from its own Settings, field for field.
_REGISTRY_FIELDS = (
    "allowed_networks",
    "dockerhub_registry_url",
    "dockerhub_api_url",
    "github_api_url",
    "aws_region",
    "google_api_url",
    "google_location",
    "azure_authority",
)


def registry_config(settings: Settings) -> RegistryConfig:
    """The registry layer's config from the bot's settings (the rest keeps its defaults)."""
    return RegistryConfig(**{name: getattr(settings, name) for name in _REGISTRY_FIELDS})

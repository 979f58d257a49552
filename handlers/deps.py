"""The shared objects every listener gets (Bolt passes them as the `deps` argument)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from handlers.actors import Actors
from handlers.payload import team_of, user_of
from handlers.slack_calls import Views


class Deps:
    """The shared objects each listener module gets."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.actors = Actors()
        self.views = Views()

    async def actor(self, client: AsyncWebClient, body: Mapping[str, Any]) -> Actor:
        return await self.actors.get(client, team_of(body), user_of(body))

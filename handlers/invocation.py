"""One `/imagerepo` subcommand call: what was typed, by whom, where, and how to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from handlers.deps import Deps
from handlers.payload import row_id
from handlers.slack_calls import safe_call


@dataclass(frozen=True)
class Invocation:
    deps: Deps
    client: AsyncWebClient
    command: dict[str, Any]
    respond: AsyncRespond
    args: list[str]

    @property
    def runtime(self) -> Runtime:
        return self.deps.runtime

    @property
    def channel_id(self) -> str:
        return str(self.command.get("channel_id", ""))

    def page(self) -> int:
        """The page number typed after the subcommand (1 when none or not a number)."""
        return (row_id(self.args[0]) if self.args else None) or 1

    async def actor(self) -> Actor:
        return await self.deps.actor(self.client, self.command)

    async def answer(self, text: str, **more: Any) -> None:
        """Answer through the command's response_url (ephemeral unless said otherwise)."""
        await safe_call("respond", self.respond(text=text, **more))


Subcommand = Callable[[Invocation], Awaitable[None]]

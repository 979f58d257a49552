"""Slash command listeners (`/imagerepo ...`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime import Runtime

HELP = "Usage: `/imagerepo help | project create NAME | add | add-pull | list | check | tools`"


def register(app: AsyncApp, runtime: Runtime) -> None:
    @app.command("/imagerepo")
    async def imagerepo(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=HELP)

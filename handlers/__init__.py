"""Slack listeners, grouped by kind as in Bolt's starter template."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.runtime import Runtime


def register_listeners(app: AsyncApp, runtime: Runtime) -> None:
    from handlers import commands

    commands.register(app, runtime)

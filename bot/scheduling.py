"""Background jobs started with the server (scheduled re-checks, outbox delivery)."""

from __future__ import annotations

from bot.runtime import Runtime


async def start(runtime: Runtime) -> None:
    """Start the background jobs; filled in by the scheduled re-check work."""


async def stop(runtime: Runtime) -> None:
    """Stop the background jobs started by `start`."""

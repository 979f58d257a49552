"""The long-lived objects every request shares (handlers.context.Request.deps)."""

from __future__ import annotations

from bot.runtime import Runtime
from handlers.actors import Actors
from handlers.slack_calls import Views


class Deps:
    """The shared objects each listener module gets."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.actors = Actors()
        self.views = Views()

"""Slack listeners, grouped by kind (commands, actions, views, events, options).

Listeners translate Slack payloads into use-case calls (bot.usecases) and use
cases' answers into Block Kit (handlers.ui); they hold no SQL and make no
registry calls of their own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from slack_bolt.async_app import AsyncApp, AsyncBoltContext

    from bot.runtime import Runtime

log = logging.getLogger("handlers")


def register_listeners(app: AsyncApp, runtime: Runtime) -> None:
    from slack_bolt.response import BoltResponse

    from handlers import (
        actions,
        alerts,
        audit,
        commands,
        events,
        metadata,
        options,
        tool_kinds,
        views,
    )
    from handlers.deps import Deps
    from handlers.payload import team_of, user_of
    from handlers.ui.i18n import ENGLISH, set_language, warm_catalogs

    # The Korean catalog is compiled from its .po now, not on the first Korean request.
    warm_catalogs()
    # Every private_metadata this process writes is signed with the configured keys.
    metadata.configure(runtime.box)

    # Bolt logs the whole body of a request whose signature fails, at INFO: a replayed
    # or stale view submission would put what the user typed (a password) in the log.
    for name in ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification"):
        logging.getLogger(name).setLevel(logging.WARNING)

    deps = Deps(runtime)

    async def provide_deps(
        context: AsyncBoltContext, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> None:
        """`deps` joins the request context, where handlers.guard.with_request finds it
        for the request's `Request`. Signed metadata this request writes or reads is bound
        to its user (issue 18, 7)."""
        context["deps"] = deps
        payload = body if isinstance(body, dict) else {}
        metadata.bind_request(payload)
        # The person's language when it is remembered (no Slack call here, on the ack
        # path); else English until the listener looks the actor up (handlers.actors).
        set_language(ENGLISH)
        deps.actors.known_language(team_of(payload), user_of(payload))
        await next()

    app.use(provide_deps)
    for module in (commands, actions, views, events, options, audit, alerts, tool_kinds):
        module.listeners.register(app)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Last resort: log the kind of failure (never the payload: it may hold a secret)."""
        kind = body.get("type") or ("command" if "command" in body else "unknown")
        log.error(
            "listener failed on a %s request: %s",
            kind,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__),
        )
        return None

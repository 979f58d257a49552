"""How a listener is wired: errors guarded, and its ack followed by the after-ack gate.

Each listener module declares its listeners with a `Listeners` (`@listeners.action(id)`
above the function); `listeners.register(app)` hands each one to Bolt through `wired()`.
A listener is a plain module-level function whose parameters Bolt fills by name (`deps`
comes from the request context, see handlers.register_listeners).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from handlers.gate import AFTER_ACK
from handlers.ui.common import went_wrong
from handlers.ui.i18n import N_

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger("handlers")

ListenerFn = Callable[..., Awaitable[None]]
L = TypeVar("L", bound=ListenerFn)
# What Bolt matches a listener on: an action, callback or options id (or a pattern of
# them), a slash command, an event type.
Matcher = str | re.Pattern[str]
Kind = Literal["action", "view", "command", "event", "options"]


class Listeners:
    """One module's listeners, each declared above its function with what Bolt matches
    it on: `@listeners.action(ids.A_TYPE)`, `@listeners.view(ids.VIEW_ADD)`...

    The function stays as it is (other modules and tests call it); `register(app)`
    hands each one to Bolt, `wired()`, in the order they were declared (Bolt runs the
    first listener that matches).
    """

    def __init__(self) -> None:
        self._declared: list[tuple[Kind, Matcher, ListenerFn]] = []

    def action(self, action_id: Matcher) -> Callable[[L], L]:
        return self._on("action", action_id)

    def view(self, callback_id: str) -> Callable[[L], L]:
        return self._on("view", callback_id)

    def command(self, command: str) -> Callable[[L], L]:
        return self._on("command", command)

    def event(self, event_type: str) -> Callable[[L], L]:
        return self._on("event", event_type)

    def options(self, action_id: str) -> Callable[[L], L]:
        return self._on("options", action_id)

    def _on(self, kind: Kind, matcher: Matcher) -> Callable[[L], L]:
        def declare(listener: L) -> L:
            self._declared.append((kind, matcher, listener))
            return listener

        return declare

    def register(self, app: AsyncApp) -> None:
        for kind, matcher, listener in self._declared:
            on = getattr(app, kind)  # app.action, app.view, app.command, app.event, app.options
            on(matcher)(wired(listener))


def wired(listener: ListenerFn) -> ListenerFn:
    """What `Listeners.register()` hands to Bolt: `guarded(gated(listener))`."""
    return guarded(gated(listener))


def gated(listener: ListenerFn) -> ListenerFn:
    """Pass the listener an `ack` that answers Slack and then waits for a slot of the
    after-ack gate (handlers.gate.AFTER_ACK); the slot is given back when it returns.

    This is the one place a listener's `ack` is replaced, and it says so in its name.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        ack = kwargs.get("ack")
        if ack is None:
            await listener(**kwargs)
            return
        leave: Callable[[], None] | None = None

        async def ack_then_wait_for_a_slot(*args: Any, **kw: Any) -> None:
            nonlocal leave
            await ack(*args, **kw)
            leave = await AFTER_ACK.enter()

        try:
            await listener(**{**kwargs, "ack": ack_then_wait_for_a_slot})
        finally:
            if leave is not None:
                leave()

    return run


def guarded(listener: ListenerFn) -> ListenerFn:
    """Catch what escapes a listener: log its kind (never the payload), and if Slack has
    not been answered yet, answer so the user sees a message rather than an error.

    The `ack` it is given is passed on unchanged."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        ack = kwargs.get("ack")
        try:
            await listener(**kwargs)
        except Exception as error:
            reply = went_wrong(N_(":x: Something went wrong on our side"))
            log.error(
                "listener %s failed: %s",
                listener.__name__,
                type(error).__name__,
                exc_info=(type(error), error, error.__traceback__),
            )
            if ack is None or getattr(ack, "response", None) is not None:
                return
            body = kwargs.get("body") or {}
            if isinstance(body, Mapping) and body.get("type") == "view_submission":
                from handlers.ui.common import notice_view

                await ack(
                    response_action="update",
                    view=notice_view("Image repositories", reply),
                )
            else:
                await ack()

    return run

"""How a listener is wired: errors guarded, and its ack followed by the after-ack gate.

`register()` functions call `listener(fn)`; `fn` itself is a plain module-level function
whose parameters Bolt fills by name (`deps` comes from the request context, see
handlers.register_listeners).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers.gate import AFTER_ACK

log = logging.getLogger("handlers")

ListenerFn = Callable[..., Awaitable[None]]


def wired(listener: ListenerFn) -> ListenerFn:
    """What every `register()` hands to Bolt: `guarded(gated(listener))`."""
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
                    view=notice_view(
                        "Image repositories",
                        ":x: Something went wrong on our side (it was logged). Try again.",
                    ),
                )
            else:
                await ack()

    return run

"""How a listener is wired: what Bolt calls builds the request's `Request` (its ack
followed by the after-ack gate), reads a submission's signed metadata, and guards errors.

Each listener module declares its listeners with a `Listeners` (`@listeners.action(id)`
above the function); `listeners.register(app)` hands each one to Bolt. A listener is a
plain module-level function of one `handlers.context.Request` (a submission's also of
its signed metadata).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers import metadata
from handlers.context import Request
from handlers.deps import Deps
from handlers.gate import AFTER_ACK
from handlers.ui.common import notice_view, went_wrong
from handlers.ui.i18n import N_

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger("handlers")

ListenerFn = Callable[..., Awaitable[None]]
Handler = Callable[[Request], Awaitable[None]]
H = TypeVar("H", bound=Handler)
M = TypeVar("M")
SubmissionHandler = Callable[[Request, M], Awaitable[None]]
# What Bolt matches a listener on: an action, callback or options id (or a pattern of
# them), a slash command, an event type.
Matcher = str | re.Pattern[str]
Kind = Literal["action", "view", "command", "event", "options"]


class Listeners:
    """One module's listeners, each declared above its function with what Bolt matches
    it on: `@listeners.action(ids.A_TYPE)`, `@listeners.submission(ids.VIEW_ADD, ...)`...

    The function stays as it is (other modules and tests call it); `register(app)`
    hands each one to Bolt in the order they were declared (Bolt runs the first listener
    that matches).
    """

    def __init__(self) -> None:
        self._declared: list[tuple[Kind, Matcher, Handler]] = []

    def action(self, action_id: Matcher) -> Callable[[H], H]:
        return self._on("action", action_id)

    def view(self, callback_id: str) -> Callable[[H], H]:
        return self._on("view", callback_id)

    def command(self, command: str) -> Callable[[H], H]:
        return self._on("command", command)

    def event(self, event_type: str) -> Callable[[H], H]:
        return self._on("event", event_type)

    def options(self, action_id: str) -> Callable[[H], H]:
        return self._on("options", action_id)

    def submission(
        self, callback_id: str, title: str, load: Callable[[str], M]
    ) -> Callable[[SubmissionHandler[M]], SubmissionHandler[M]]:
        """A modal's submission, handled as `handle(request, meta)` once `load` has read
        the modal's signed private_metadata; when this app did not sign it (`load` raises
        a ValueError) nothing is read from the modal and the user is told (`title`, a
        msgid, heads that notice)."""

        def declare(handle: SubmissionHandler[M]) -> SubmissionHandler[M]:
            async def signed(request: Request) -> None:
                try:
                    meta = load(str(request.view.get("private_metadata") or ""))
                except ValueError:
                    await request.notice(title, metadata.FORGED)
                    return
                await handle(request, meta)

            signed.__name__ = signed.__qualname__ = handle.__name__  # as logged by the guard
            self._declared.append(("view", callback_id, signed))
            return handle

        return declare

    def _on(self, kind: Kind, matcher: Matcher) -> Callable[[H], H]:
        def declare(listener: H) -> H:
            self._declared.append((kind, matcher, listener))
            return listener

        return declare

    def register(self, app: AsyncApp) -> None:
        for kind, matcher, listener in self._declared:
            on = getattr(app, kind)  # app.action, app.view, app.command, app.event, app.options
            on(matcher)(guarded(with_request(listener)))


def with_request(listener: Handler) -> ListenerFn:
    """What Bolt calls (through `guarded`): the listener with this request's `Request`,
    whose `ack` answers Slack and then waits for a slot of the after-ack gate
    (handlers.gate.AFTER_ACK); the slot is given back when the listener returns.

    This is the one place a listener's `ack` is replaced. Bolt fills the parameters by
    name (`deps` from the request context, see handlers.register_listeners)."""

    async def run(
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        deps: Deps,
    ) -> None:
        leave: Callable[[], None] | None = None

        async def ack_then_wait_for_a_slot(*args: Any, **kw: Any) -> None:
            nonlocal leave
            await ack(*args, **kw)
            leave = await AFTER_ACK.enter()

        request = Request(
            deps, client, body, ack_then_wait_for_a_slot, respond, context.bot_user_id
        )
        try:
            await listener(request)
        finally:
            if leave is not None:
                leave()

    run.__name__ = run.__qualname__ = listener.__name__  # as logged by the guard
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
        # The listener guard: whatever a listener raises stops here, so Slack is answered
        # and Bolt's error handler never sees a request half done.
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
                await ack(
                    response_action="update",
                    view=notice_view("Image repositories", reply),
                )
            else:
                await ack()

    return run

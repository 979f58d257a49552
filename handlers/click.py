"""A click on a button or menu (block_actions): where it came from, `Click` (what answering
it needs), and the wrappers that turn a function of the ids the click carries into a
listener (`menu` for a row's menu, `row_button` for a button holding an entry's id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.actor import Actor
from bot.usecases.permissions import Place
from handlers.deps import Deps
from handlers.guard import ListenerFn
from handlers.payload import action_row_id, action_value, channel_of, chosen_value, row_id, view_of
from handlers.slack_calls import JsonDict, safe_call
from handlers.ui.common import notice_view
from handlers.ui.i18n import _


def from_home(body: Mapping[str, Any]) -> bool:
    return view_of(body).get("type") == "home"


def place_of(body: Mapping[str, Any]) -> Place:
    """Where the click came from: the Home tab, or the channel Slack says the message is in
    (use cases trust an id only for that channel's project)."""
    return Place.home() if from_home(body) else Place.channel(channel_of(body) or "")


@dataclass(frozen=True)
class Click:
    """A click on a button or menu of a message or a view, and how to answer the user who
    clicked (what handlers.invocation.Invocation is for a slash command)."""

    deps: Deps
    client: AsyncWebClient
    body: Mapping[str, Any]
    respond: AsyncRespond

    @property
    def from_home(self) -> bool:
        return from_home(self.body)

    @property
    def place(self) -> Place:
        return place_of(self.body)

    async def actor(self) -> Actor:
        return await self.deps.actor(self.client, self.body)

    async def open(self, view: View) -> JsonDict | None:
        """Open a modal on the click's trigger."""
        return await self.deps.views.open(self.client, str(self.body.get("trigger_id")), view)

    async def tell(self, text: str) -> None:
        """Answer only the clicking user: in the message's channel, or in a small modal."""
        if self.body.get("response_url"):
            await safe_call(
                "respond",
                self.respond(text=text, response_type="ephemeral", replace_original=False),
            )
        elif self.body.get("trigger_id"):
            await self.open(notice_view(_("Image repositories"), text))


def _menu_choice(body: Mapping[str, Any]) -> tuple[str, int] | None:
    value = chosen_value(body) or action_value(body)
    kind, _, number = value.partition(":")
    number_id = row_id(number)
    return (kind, number_id) if number_id is not None else None


def _row(body: Mapping[str, Any]) -> tuple[int] | None:
    repository_id = action_row_id(body)
    return (repository_id,) if repository_id is not None else None


def menu(handle: Callable[[Click, str, int], Awaitable[None]]) -> ListenerFn:
    """A row menu's listener: `handle(click, kind, id)` with the `kind:id` chosen."""
    return _reading(_menu_choice, handle)


def row_button(handle: Callable[[Click, int], Awaitable[None]]) -> ListenerFn:
    """A listener for a button whose value is an entry's id: `handle(click, id)`."""
    return _reading(_row, handle)


def _reading(
    read: Callable[[Mapping[str, Any]], tuple[Any, ...] | None],
    handle: Callable[..., Awaitable[None]],
) -> ListenerFn:
    """Ack, read the ids the click carries and hand them to `handle` with the Click (a click
    without them does nothing)."""

    async def listener(
        ack: AsyncAck, body: JsonDict, client: AsyncWebClient, respond: AsyncRespond, deps: Deps
    ) -> None:
        await ack()
        carried = read(body)
        if carried is not None:
            await handle(Click(deps, client, body, respond), *carried)

    listener.__name__ = listener.__qualname__ = handle.__name__  # as logged by the guard
    return listener

"""One Slack request as a listener sees it: who acts, where, the shared objects, and every
way of answering (the ack, the response_url, a modal, the Home tab).

Commands, clicks, submissions, options and events all get a `Request`, built once per
request by handlers.guard from what Bolt hands over; nothing else reads who acts or where
the request came from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.permissions import Place
from handlers.deps import Deps
from handlers.payload import channel_of, team_of, user_of, view_of
from handlers.slack_calls import JsonDict, safe_call
from handlers.ui.common import notice_view
from handlers.ui.i18n import _

log = logging.getLogger("handlers")

ViewBuilder = Callable[[JsonDict | None], View | None]
Ack = Callable[..., Awaitable[None]]  # Bolt's AsyncAck, or one that calls it


@dataclass(frozen=True)
class Request:
    """A slash command, a click, a submission, an options request or an event.

    `ack` answers Slack (within its 3 s) and then waits for a slot of the after-ack gate
    (handlers.gate); `respond` posts to the request's response_url, when it has one.
    """

    deps: Deps
    client: AsyncWebClient
    body: Mapping[str, Any]
    ack: Ack
    respond: AsyncRespond
    bot_user_id: str | None = None

    # -- who, where --------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        return self.deps.runtime

    @property
    def team_id(self) -> str:
        return team_of(self.body)

    @property
    def user_id(self) -> str:
        return user_of(self.body)

    async def actor(self) -> Actor:
        """Who acts (users.info, cached briefly); also makes their language the request's."""
        return await self.deps.actors.get(self.client, self.team_id, self.user_id)

    @property
    def channel_id(self) -> str:
        """The channel a command was typed in, or the one Slack says a message is in."""
        if "command" in self.body:
            return str(self.body.get("channel_id", ""))
        return channel_of(self.body) or ""

    @property
    def view(self) -> JsonDict:
        """The view the request came from ({} for a command or a message)."""
        return view_of(self.body)

    @property
    def from_home(self) -> bool:
        return self.view.get("type") == "home"

    @property
    def place(self) -> Place:
        """Where the request came from: the Home tab, or the channel Slack names (use cases
        trust an id only for that channel's project)."""
        return Place.home() if self.from_home else Place.channel(self.channel_id)

    # -- answering ---------------------------------------------------------------------

    async def answer(self, text: str, **more: Any) -> None:
        """Answer through the response_url (a command's answer is ephemeral unless said
        otherwise); a request without one (only a forged click) is not answered."""
        if self.respond.response_url is None:
            log.info("no response_url to answer on")
            return
        await safe_call("respond", self.respond(text=text, **more))

    async def tell(self, text: str) -> None:
        """Answer only the user: in the message's channel, or in a small modal."""
        if self.body.get("response_url"):
            await self.answer(text, response_type="ephemeral", replace_original=False)
        elif self.body.get("trigger_id"):
            await self.open(notice_view(_("Image repositories"), text))

    async def ack_view(self, view: View) -> None:
        """Answer a submission by replacing its modal (within the ack)."""
        await self.ack(response_action="update", view=view)

    async def notice(self, title: str, text: str) -> None:
        """Answer a submission with a notice (within the ack); `title` is a msgid."""
        await self.ack_view(notice_view(_(title), text))

    async def open(self, view: View) -> JsonDict | None:
        """Open a modal on the request's trigger."""
        return await self.deps.views.open(self.client, str(self.body.get("trigger_id")), view)

    async def update(
        self,
        build: ViewBuilder | View,
        *,
        view_id: str | None = None,
        hash: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> JsonDict | None:
        """Replace a modal (by default the one the request came from) after the ack;
        see handlers.slack_calls.Views.update for `hash` and `current`."""
        target = view_id if view_id is not None else str(self.view.get("id"))
        return await self.deps.views.update(self.client, target, build, hash=hash, current=current)

"""Web API calls that never raise into a listener for Slack's or the network's failures
(`SLACK_CALL_ERRORS`): views.open / update / publish, and any other call through
`safe_call`.

Nothing here logs a payload or a view's state: only ids, method names and
Slack error codes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("handlers")

JsonDict = dict[str, Any]

# What a Web API call (or a post to a response_url) raises when it fails: Slack's error
# answer (SlackApiError) or a refused request (SlackRequestError...), both SlackClientError;
# the connection (aiohttp's errors, an OSError such as a refused connect) or a timeout.
SLACK_CALL_ERRORS: tuple[type[Exception], ...] = (
    SlackClientError,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)


def slack_error_code(error: SlackApiError) -> str:
    """The `error` field of Slack's answer (never the rest of it)."""
    try:
        return str(error.response.get("error", "error"))
    except (AttributeError, TypeError):  # an answer that was not JSON (bytes, a text)
        return "error"


class Views:
    """views.open / views.update / views.publish that never raise into a listener.

    Remembers the latest hash and content of each view it changed, so that a
    `hash_conflict` (the view changed since the payload was sent) can be retried
    once against the newest version, or dropped when the change is stale.
    """

    def __init__(self, size: int = 2000) -> None:
        self._latest: OrderedDict[str, JsonDict] = OrderedDict()
        self._size = size

    def remember(self, view: Mapping[str, Any] | None) -> None:
        if not view or not view.get("id"):
            return
        view_id = str(view["id"])
        self._latest[view_id] = dict(view)
        self._latest.move_to_end(view_id)
        while len(self._latest) > self._size:
            self._latest.popitem(last=False)

    def latest(self, view_id: str) -> JsonDict | None:
        return self._latest.get(view_id)

    async def open(self, client: AsyncWebClient, trigger_id: str, view: View) -> JsonDict | None:
        try:
            response = await client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            log.warning("views.open failed: %s", slack_error_code(error))
            return None
        except SLACK_CALL_ERRORS as error:
            log.warning("views.open failed: %s", type(error).__name__)
            return None
        opened: JsonDict = response.get("view") or {}
        self.remember(opened)
        return opened

    async def update(
        self,
        client: AsyncWebClient,
        view_id: str,
        build: Callable[[JsonDict | None], View | None] | View,
        *,
        hash: str | None = None,
        current: Mapping[str, Any] | None = None,
    ) -> JsonDict | None:
        """Update a modal; returns the new view (with its hash) or None when not updated.

        `build` receives the view it replaces (the payload's, or on a hash
        conflict the newest this process knows) and returns the new content,
        or None to give up because the update is stale.
        """
        base: JsonDict | None = dict(current) if current is not None else None
        for attempt in (1, 2):
            view = build(base) if callable(build) else build
            if view is None:
                log.info("views.update of %s dropped: stale", view_id)
                return None
            try:
                response = await client.views_update(view_id=view_id, hash=hash, view=view)
            except SlackApiError as error:
                code = slack_error_code(error)
                if code == "hash_conflict" and attempt == 1:
                    newer = self.latest(view_id)
                    if newer is not None and newer.get("hash") and newer.get("hash") != hash:
                        base, hash = newer, str(newer["hash"])
                        continue
                    log.info("views.update of %s dropped after hash_conflict", view_id)
                    return None
                log.warning("views.update of %s failed: %s", view_id, code)
                return None
            except SLACK_CALL_ERRORS as error:
                log.warning("views.update of %s failed: %s", view_id, type(error).__name__)
                return None
            updated: JsonDict = response.get("view") or {}
            self.remember(updated)
            return updated
        return None

    async def publish(self, client: AsyncWebClient, user_id: str, view: View) -> None:
        try:
            response = await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            log.warning("views.publish failed: %s", slack_error_code(error))
            return
        except SLACK_CALL_ERRORS as error:
            log.warning("views.publish failed: %s", type(error).__name__)
            return
        self.remember(response.get("view"))


async def safe_call(what: str, call: Awaitable[Any]) -> Any:
    """Await a Web API call (chat.postEphemeral, respond...); log a failure, never raise."""
    try:
        return await call
    except SlackApiError as error:
        log.warning("%s failed: %s", what, slack_error_code(error))
    except SLACK_CALL_ERRORS as error:
        log.warning("%s failed: %s", what, type(error).__name__)
    return None

"""Channel messages out: the outbox's `Poster` (words a notice, calls the Web API) and
sending what a use case just queued, from the listener that ran it."""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import outbox
from bot.outbox import Answer, Outgoing
from bot.runtime import Runtime
from handlers.slack_calls import SLACK_CALL_ERRORS
from handlers.ui.channel import late_note, late_text, render
from handlers.ui.i18n import using
from storage.enums import OutboxKind

log = logging.getLogger("handlers")

OUTBOX_OWNER = f"handlers-{os.getpid()}-{uuid.uuid4().hex[:8]}"
MESSAGE_BLOCKS_MAX = 50  # blocks in a message (Block Kit reference)


def call_of(message: Outgoing) -> tuple[str, dict[str, Any]]:
    """The Web API method and its arguments for `message`: its words and blocks, a late
    note on top when it was held, `ts` for an edit, `thread_ts` for a reply."""
    with using(message.language):  # the project's language, not the last requester's
        return _call_of(message)


def _call_of(message: Outgoing) -> tuple[str, dict[str, Any]]:
    blocks: list[Any] | None
    if message.notice is not None:
        rendered = render(message.notice)
        text, blocks = rendered.text, [b.to_dict() for b in rendered.blocks]
    else:  # queued by a version before notices: its words were stored with it
        text, blocks = message.legacy_text, message.legacy_blocks
    kwargs: dict[str, Any] = {"channel": message.channel_id, "text": text}
    if message.late and message.kind is not OutboxKind.UPDATE:
        kwargs["text"] = late_text(text)
        blocks = [late_note(message.queued_at).to_dict(), *(blocks or [])][:MESSAGE_BLOCKS_MAX]
    if blocks:
        kwargs["blocks"] = blocks
    if message.kind is OutboxKind.UPDATE:
        kwargs["ts"] = message.anchor_ts or ""
        return "chat_update", kwargs
    if message.kind is OutboxKind.REPLY:
        kwargs["thread_ts"] = message.anchor_ts or ""
    return "chat_postMessage", kwargs


class SlackPoster:
    """The outbox's `Poster` over the Web API client: never raises for Slack's answers."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def __call__(self, message: Outgoing) -> Answer:
        method, kwargs = call_of(message)
        try:
            if method == "chat_update":
                response = await self.client.chat_update(**kwargs)
            else:
                response = await self.client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            return Answer(str(exc.response.get("error", "slack_error")))
        except SLACK_CALL_ERRORS as exc:  # connection refused, timeout: retry later
            return Answer(type(exc).__name__)
        return Answer(None, str(response.get("ts") or "") or None)


async def deliver_outbox(runtime: Runtime) -> None:
    """Send the channel messages a use case just queued.

    When the scheduler's outbox sender runs in this process it already woke up
    (the use case set `runtime.outbox_ready`): sending here too would race it.
    """
    if runtime.poster is None or runtime.outbox_sender_running:
        return
    try:
        for _ in range(5):  # a post, then the edits and replies waiting for its ts
            if not await outbox.deliver_pending(
                runtime.sessions, runtime.poster, owner=OUTBOX_OWNER
            ):
                break
    # A boundary: the listener has done what was asked, and its answer must not depend on
    # sending the channel messages it queued (the database gone, a notice that cannot be
    # worded); they stay in the outbox and the scheduler's sender retries them later.
    except Exception as error:
        log.warning("outbox delivery failed: %s", type(error).__name__)
